import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { LocalService, StackContext } from '../context.ts';
import { ensureRealtimePartitions, partitionMode } from '../db/partitions.ts';
import { HttpError, sendJson } from '../http.ts';
import { checkToken } from './auth.ts';
import { ChangeFeed } from './changes/feed.ts';
import { Connection } from './connection.ts';
import { DbBroadcastListener } from './db-broadcast.ts';
import { Hub } from './hub.ts';
import { parseVsn } from './protocol.ts';
import { handleRest } from './rest.ts';

/**
 * The local stand-in for Supabase Realtime, mounted at `/realtime/v1` (see docs/local-stack.md
 * for what differs from hosted Realtime):
 * - `GET /websocket` (upgrade): Phoenix channels, vsn 1.0.0 and 2.0.0 — broadcast, presence,
 *   postgres_changes, private channels authorized by RLS on realtime.messages;
 * - `POST /api/broadcast[/<topic>/events/<event>]`: REST broadcast.
 * Broadcast from Database arrives through NOTIFY (db-broadcast.ts); Postgres Changes through a
 * temporary `test_decoding` slot (changes/).
 */

export interface RealtimeService extends LocalService {
  /** Resolves once database broadcasts are being listened for. */
  ready(): Promise<void>;
}

function refuseUpgrade(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ error: message });
  const reason =
    status === 401
      ? 'Unauthorized'
      : status === 403
        ? 'Forbidden'
        : status === 404
          ? 'Not Found'
          : 'Bad Request';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

export function createRealtimeService(): RealtimeService {
  let ctx: StackContext | null = null;
  let hub: Hub | null = null;
  let changes: ChangeFeed | null = null;
  let listener: DbBroadcastListener | null = null;
  let wss: WebSocketServer | null = null;
  const connections = new Set<Connection>();

  return {
    name: 'realtime',

    async start(context) {
      ctx = context;
      hub = new Hub();
      changes = new ChangeFeed(context);
      listener = new DbBroadcastListener(context, hub);
      wss = new WebSocketServer({ noServer: true, maxPayload: 4 * 1024 * 1024 });
      await listener.start();
      context.log('realtime', 'listening for Broadcast from Database');
    },

    async stop() {
      await Promise.all([...connections].map((conn) => conn.shutdown()));
      connections.clear();
      await listener?.stop();
      await changes?.stop();
      await new Promise<void>((resolve) => (wss ? wss.close(() => resolve()) : resolve()));
      wss = null;
    },

    ready() {
      return listener?.ready ?? Promise.reject(new Error('realtime service not started'));
    },

    http: {
      prefix: '/realtime/v1',
      async handle(req, res, path) {
        if (!ctx || !hub) throw new HttpError(503, { message: 'realtime is not running' });
        if (path === '/api/health' || path === '/api/ping') {
          sendJson(res, 200, { message: 'Success' });
          return;
        }
        await handleRest(ctx, hub, req, res, path);
      },
    },

    upgrade: {
      prefix: '/realtime/v1',
      handle(req: IncomingMessage, socket: Duplex, head: Buffer, path: string) {
        if (!ctx || !hub || !changes || !wss) {
          refuseUpgrade(socket, 503, 'realtime is not running');
          return;
        }
        if (path !== '/websocket' && path !== '/socket/websocket') {
          refuseUpgrade(socket, 404, 'Not Found');
          return;
        }
        const url = new URL(req.url ?? '/', 'http://realtime');
        const vsn = parseVsn(url.searchParams.get('vsn'));
        if (!vsn) {
          refuseUpgrade(socket, 400, `unsupported vsn ${url.searchParams.get('vsn')}`);
          return;
        }
        // As Realtime: x-api-key header, else apikey header or query param, checked as a JWT.
        const apikey =
          (req.headers['x-api-key'] as string | undefined) ??
          (req.headers.apikey as string | undefined) ??
          url.searchParams.get('apikey');
        if (!apikey) {
          refuseUpgrade(socket, 401, 'No apikey provided');
          return;
        }
        const checked = checkToken(apikey, ctx.keys.jwtSecret);
        if (!checked.ok) {
          refuseUpgrade(socket, 403, checked.reason);
          return;
        }
        const deps = { ctx, hub, changes };
        // Hosted Realtime makes the tenant's partitions when a client connects (tenants/connect.ex).
        if (partitionMode() === 'on-connect') {
          const context = ctx;
          void ensureRealtimePartitions(context.adminPool).catch((error) =>
            context.log('realtime', 'realtime partitions on connect failed', error),
          );
        }
        wss.handleUpgrade(req, socket, head, (ws) => {
          const conn = new Connection(ws, vsn, apikey, deps);
          connections.add(conn);
          ws.on('close', () => connections.delete(conn));
        });
      },
    },
  };
}
