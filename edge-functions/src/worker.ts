/**
 * `dispatch-worker`: called by pg_net and pg_cron with the shared secret in `x-dispatch-secret`
 * (Vault `dispatch_worker_secret` on the database side, `DISPATCH_WORKER_SECRET` here). Deploy it
 * with `--no-verify-jwt`: pg_net sends no JWT.
 *
 * This release authenticates callers and answers the doctor's probe. The delivery loop (drain,
 * claim, render, send, record) is not in this version: a real call answers 501 and does nothing,
 * so receipts stay pending and nothing is lost.
 */
import { json, problem, readJsonBody } from './http.ts';
import type { Registry } from './registry.ts';
import { secretsEqual } from './secret.ts';

export interface WorkerOptions {
  /** The shared secret; default: the `DISPATCH_WORKER_SECRET` environment variable. */
  secret?: string;
}

export function serve(registry: Registry, options: WorkerOptions = {}): (req: Request) => Promise<Response> {
  return async (req) => {
    const secret = options.secret ?? Deno.env.get('DISPATCH_WORKER_SECRET') ?? '';
    if (secret === '') {
      return problem(
        500,
        'worker_secret_missing',
        'DISPATCH_WORKER_SECRET is not set: `supabase secrets set DISPATCH_WORKER_SECRET=<the Vault secret dispatch_worker_secret>`',
      );
    }
    if (!secretsEqual(req.headers.get('x-dispatch-secret') ?? '', secret)) {
      return problem(401, 'unauthorized', 'header x-dispatch-secret: missing or wrong');
    }
    if (req.method !== 'POST') return problem(405, 'method_not_allowed', `method ${req.method}: use POST`);
    const read = await readJsonBody(req);
    if ('response' in read) return read.response;
    const body = read.body as { probe?: unknown } | null;
    if (body !== null && typeof body === 'object' && body.probe === true) {
      return json(200, { probe: true, events: Object.keys(registry.events).length });
    }
    return problem(
      501,
      'not_implemented',
      'dispatch-worker: delivery is not part of this supadispatch version; receipts stay pending',
    );
  };
}
