/**
 * What the demo project's supabase/config.toml reads from the environment (`env(...)`): the Send
 * Email hook's URL and the webhook sink's /orders, both on the ports of the stack being started.
 * Shared by `npm start` and `npm test`; values already set win.
 */
import { resolvePorts } from '../local/src/ports.ts';

export function demoStackEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const ports = resolvePorts(env);
  return {
    SEND_EMAIL_HOOK_URI:
      env.SEND_EMAIL_HOOK_URI || `http://127.0.0.1:${ports.api}/functions/v1/dispatch-auth-email`,
    DEMO_ORDERS_WEBHOOK_URL: env.DEMO_ORDERS_WEBHOOK_URL || `http://127.0.0.1:${ports.webhookSink}/orders`,
  };
}
