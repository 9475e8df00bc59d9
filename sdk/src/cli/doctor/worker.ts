/**
 * Does dispatch-worker answer at the URL pg_net calls? A harmless probe of it, and the check (with
 * the fix for each way it can fail) made from the probe's result.
 */
import type { Check, ProbeResult, WorkerProbe } from './check.ts';

export type { ProbeResult, WorkerProbe };

export const DEFAULT_PROBE_TIMEOUT_MS = 5000;

/**
 * A harmless call of the worker, as the SQL core's poke makes it (dispatch.poke_worker: POST, JSON,
 * header `x-dispatch-secret`), with the body `{"probe":true}`: the worker answers 2xx without
 * claiming receipts. No redirects are followed.
 */
export const probeWorker: WorkerProbe = async (url, secret, timeoutMs) => {
  const redact = (text: string) => {
    let out = text.split(url).join(displayUrl(url));
    try {
      const { password } = new URL(url);
      if (password) out = out.split(password).join('***');
    } catch {}
    return out;
  };
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-dispatch-secret': secret };
  let target = url;
  try {
    // fetch refuses credentials in the URL; pg_net (curl) sends them as basic auth, so do the same
    const u = new URL(url);
    if (u.username || u.password) {
      const user = decodeURIComponent(u.username);
      const pass = decodeURIComponent(u.password);
      headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
      u.username = '';
      u.password = '';
      target = u.toString();
    }
  } catch {
    return { error: 'the Vault secret dispatch_worker_url is not a URL' };
  }
  try {
    const res = await fetch(target, {
      method: 'POST',
      headers,
      body: JSON.stringify({ probe: true }),
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = await res.text().catch(() => '');
    return { status: res.status, body: body.slice(0, 300) };
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    if (err.name === 'TimeoutError' || err.name === 'AbortError')
      return { error: `no answer within ${timeoutMs} ms` };
    return { error: redact(err.cause?.code ?? err.cause?.message ?? err.message) };
  }
};

/** The URL without credentials, query or fragment (safe to print). */
function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(not a URL)';
  }
}

const DEPLOY = 'supabase functions deploy dispatch-worker --no-verify-jwt';
const SET_URL =
  "select vault.update_secret((select id from vault.secrets where name = 'dispatch_worker_url'), 'https://<project-ref>.supabase.co/functions/v1/dispatch-worker');";

/** The check `dispatch-worker answers` from a probe's result. */
export function workerCheck(url: string, result: ProbeResult): Check {
  const name = 'dispatch-worker answers';
  const where = displayUrl(url);
  if (result.error !== undefined || result.status === undefined) {
    return {
      name,
      ok: false,
      detail: `no answer from ${where} (${result.error ?? 'no response'})`,
      fix: `deploy the worker: \`${DEPLOY}\`; if it is deployed, correct the URL in Vault: ${SET_URL}`,
    };
  }
  const status = result.status;
  if (status >= 200 && status < 300) {
    const missing = missingEnvOf(result.body);
    if (missing.length === 0) return { name, ok: true, detail: `HTTP ${status} from ${where}` };
    return {
      name,
      ok: false,
      detail: `HTTP ${status} from ${where}, but the function lacks ${missing.join(', ')}`,
      fix: `\`supabase secrets set ${missing.map((n) => `${n}=<value>`).join(' ')}\` (README, "Hosted setup": what each one is)`,
    };
  }
  const detail = `HTTP ${status} from ${where}`;
  if (status === 404) {
    return {
      name,
      ok: false,
      detail: `${detail} — no function there`,
      fix: `deploy the worker: \`${DEPLOY}\` (and check the URL in Vault ends in /functions/v1/dispatch-worker)`,
    };
  }
  if (status === 401 || status === 403) {
    const jwt = /jwt|authorization header/i.test(result.body ?? '');
    return {
      name,
      ok: false,
      detail: `${detail}${jwt ? ' — the gateway wants a JWT' : ' — the secret was refused'}`,
      fix: jwt
        ? `pg_net calls the worker without a JWT: \`${DEPLOY}\` (or verify_jwt = false under [functions.dispatch-worker] in supabase/config.toml)`
        : "give the function the Vault secret's value: `supabase secrets set DISPATCH_WORKER_SECRET=<value of select decrypted_secret from vault.decrypted_secrets where name = 'dispatch_worker_secret'>`, or set both anew: select vault.update_secret((select id from vault.secrets where name = 'dispatch_worker_secret'), '<new secret>');",
    };
  }
  if (status >= 300 && status < 400) {
    return {
      name,
      ok: false,
      detail: `${detail} — a redirect (pg_net does not follow it)`,
      fix: `store the final URL in Vault: ${SET_URL}`,
    };
  }
  return {
    name,
    ok: false,
    detail: `${detail}${result.body ? `: ${result.body.replace(/\s+/g, ' ').slice(0, 120)}` : ''}`,
    fix: `read the worker's logs (Dashboard → Edge Functions → dispatch-worker → Logs) and redeploy: \`${DEPLOY}\``,
  };
}

/** The function secrets the worker's probe answer names as missing (`missingEnv`), if any. */
function missingEnvOf(body: string | undefined): string[] {
  try {
    const parsed = JSON.parse(body ?? '') as { missingEnv?: unknown };
    if (!Array.isArray(parsed.missingEnv)) return [];
    return parsed.missingEnv.filter(
      (n): n is string => typeof n === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(n),
    );
  } catch {
    return [];
  }
}
