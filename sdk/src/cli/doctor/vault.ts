/**
 * Are the worker's URL and secret in Vault, readable by the role doctor runs as (on hosted, postgres
 * may read vault.decrypted_secrets)? With a URL there, the worker is probed at it: that is what
 * pg_net calls.
 */
import { type Check, type DoctorCheck, firstRow } from './check.ts';
import { DEFAULT_PROBE_TIMEOUT_MS, probeWorker, workerCheck } from './worker.ts';

const SECRET_NAMES = ['dispatch_worker_url', 'dispatch_worker_secret'] as const;

const createSecret: Record<(typeof SECRET_NAMES)[number], string> = {
  dispatch_worker_url:
    "select vault.create_secret('https://<project>.supabase.co/functions/v1/dispatch-worker', 'dispatch_worker_url');",
  dispatch_worker_secret:
    "select vault.create_secret('<random secret, also set as DISPATCH_WORKER_SECRET for the functions>', 'dispatch_worker_secret');",
};

export const vaultCheck: DoctorCheck = async (query, _config, options) => {
  const { vault } = await firstRow(
    query,
    `select to_regclass('vault.decrypted_secrets') is not null as vault`,
  );
  if (!vault) return [{ name: 'Vault available', ok: false, fix: 'enable the supabase_vault extension' }];
  let secrets: Map<string, string>;
  try {
    const rows = await query(
      `select name, decrypted_secret as value from vault.decrypted_secrets
       where name in ('dispatch_worker_url', 'dispatch_worker_secret') and coalesce(decrypted_secret, '') <> ''`,
    );
    secrets = new Map(rows.map((r) => [String(r.name), String(r.value ?? '')]));
  } catch (e) {
    return [
      {
        name: 'Vault readable',
        ok: false,
        detail: (e as Error).message,
        fix: 'run doctor as the postgres role (the database URL from Project Settings → Database), which may read vault.decrypted_secrets',
      },
    ];
  }
  const checks: Check[] = SECRET_NAMES.map((s) => ({
    name: `Vault secret ${s}`,
    ok: secrets.has(s),
    fix: createSecret[s],
  }));
  const url = secrets.get('dispatch_worker_url');
  if (url) {
    const timeoutMs = options.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
    const result = await (options.probe ?? probeWorker)(
      url,
      secrets.get('dispatch_worker_secret') ?? '',
      timeoutMs,
    );
    checks.push(workerCheck(url, result));
  }
  return checks;
};
