import { createAuthService } from './auth/index.ts';
import type { LocalService } from './context.ts';
import { createNetSender } from './db/net-sender.ts';
import { createRealtimePartitionJanitor } from './db/partitions.ts';
import { createFunctionsService } from './functions/index.ts';
import { createMailCatcher } from './mail/index.ts';
import { createRealtimeService } from './realtime/index.ts';
import { createRestService } from './rest/index.ts';
import { createWebhookSink } from './webhook-sink/index.ts';

/**
 * The stack's services in start order (stopped in reverse). Sinks come first so that the
 * services that send to them (Auth's mail, pg_net's requests) find them up.
 */
export async function createStackServices(): Promise<LocalService[]> {
  return [
    createMailCatcher(),
    createWebhookSink(),
    createRealtimePartitionJanitor(),
    createNetSender(),
    createFunctionsService(),
    createAuthService(),
    createRealtimeService(),
    createRestService(),
  ];
}
