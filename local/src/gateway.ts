import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { LocalService, StackContext } from './context.ts';
import { corsHeaders, HttpError, sendJson } from './http.ts';
import { verifyJwt } from './jwt.ts';

/**
 * The API gateway on API_URL, playing Kong's part in `supabase start`: one port, services mounted
 * under their prefix (stripped before the service sees the path), `apikey` key-auth on the
 * routes Kong guards, CORS, and the apikey copied to `Authorization` when the client sent none.
 */

/** Routes Kong guards with key-auth, and the auth paths it lets through without a key. */
const keyAuthPrefixes = ['/rest/v1', '/auth/v1', '/realtime/v1', '/graphql/v1', '/storage/v1'];
const keylessAuthPaths = ['/verify', '/callback', '/authorize', '/.well-known/jwks.json'];
const corsPrefixes = ['/rest/v1', '/auth/v1', '/realtime/v1'];

export interface Gateway {
  readonly port: number;
  mount(service: LocalService): void;
  close(): Promise<void>;
}

function matchPrefix(path: string, prefix: string): string | null {
  if (path === prefix) return '/';
  if (path.startsWith(`${prefix}/`)) return path.slice(prefix.length);
  return null;
}

/** Kong's key-auth: the key must be one of the stack's keys; anything else is refused. */
function checkApiKey(req: IncomingMessage, url: URL, ctx: StackContext): HttpError | null {
  const apikey = (req.headers.apikey as string | undefined) ?? url.searchParams.get('apikey') ?? undefined;
  if (!apikey) {
    return new HttpError(
      401,
      { message: 'No API key found in request' },
      { 'www-authenticate': 'Key realm="kong"' },
    );
  }
  if (apikey !== ctx.keys.anonKey && apikey !== ctx.keys.serviceRoleKey) {
    // Like hosted Supabase, a JWT signed with the project's secret and carrying the anon or
    // service_role role is accepted as a key too (e.g. keys minted with a longer expiry).
    const verified = verifyJwt(apikey, ctx.keys.jwtSecret);
    const role = verified.ok ? verified.claims.role : undefined;
    if (role !== 'anon' && role !== 'service_role') {
      return new HttpError(401, { message: 'Invalid authentication credentials' });
    }
  }
  if (!req.headers.authorization || /^bearer\s+sb_/i.test(req.headers.authorization)) {
    req.headers.authorization = `Bearer ${apikey}`;
  }
  return null;
}

export function startGateway(ctx: StackContext, port: number, host = '127.0.0.1'): Promise<Gateway> {
  const services: LocalService[] = [];

  const route = (path: string, kind: 'http' | 'upgrade') => {
    let best: { service: LocalService; rest: string; prefix: string } | null = null;
    for (const service of services) {
      const prefix = kind === 'http' ? service.http?.prefix : service.upgrade?.prefix;
      if (!prefix) continue;
      const rest = matchPrefix(path, prefix);
      if (rest !== null && (!best || prefix.length > best.prefix.length)) best = { service, rest, prefix };
    }
    return best;
  };

  const onRequest = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://gateway');
    const path = url.pathname;
    try {
      if (path === '/health' || path === '/') {
        sendJson(res, 200, { status: 'ok', services: services.map((s) => s.name) });
        return;
      }
      const guarded = keyAuthPrefixes.find((p) => matchPrefix(path, p) !== null);
      const wantsCors = corsPrefixes.some((p) => matchPrefix(path, p) !== null);
      if (wantsCors) for (const [k, v] of Object.entries(corsHeaders)) res.setHeader(k, v);
      if (wantsCors && req.method === 'OPTIONS') {
        res.writeHead(200, { 'content-length': '0' });
        res.end();
        return;
      }
      const keyless = guarded === '/auth/v1' && keylessAuthPaths.includes(matchPrefix(path, guarded) ?? '');
      if (guarded && !keyless) {
        const refused = checkApiKey(req, url, ctx);
        if (refused) throw refused;
      }
      const target = route(path, 'http');
      if (!target?.service.http) {
        throw new HttpError(404, { message: 'no Route matched with those values' });
      }
      await target.service.http.handle(req, res, target.rest);
    } catch (error) {
      if (res.headersSent) {
        ctx.log('gateway', `error after response started on ${req.method} ${path}`, error);
        res.destroy();
        return;
      }
      if (error instanceof HttpError) {
        sendJson(res, error.status, error.body, error.headers);
      } else {
        ctx.log('gateway', `unhandled error on ${req.method} ${path}`, error);
        sendJson(res, 500, { message: 'An unexpected error occurred in the local stack; see its log' });
      }
    }
  };

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://gateway');
    const target = route(url.pathname, 'upgrade');
    if (!target?.service.upgrade) {
      socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    try {
      target.service.upgrade.handle(req, socket, head, target.rest);
    } catch (error) {
      ctx.log('gateway', `upgrade failed on ${url.pathname}`, error);
      socket.destroy();
    }
  };

  return new Promise((resolve, reject) => {
    const server: Server = createServer((req, res) => void onRequest(req, res));
    server.on('upgrade', onUpgrade);
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      const boundPort = typeof address === 'object' && address ? address.port : port;
      resolve({
        port: boundPort,
        mount: (service) => services.push(service),
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
