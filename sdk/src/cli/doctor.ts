/**
 * `supadispatch doctor [--db-url <url>] [--config <file>] [--probe-timeout <ms>]`: a checklist of an
 * install, with a fix for each failure; exit 1 when anything fails. The database URL comes from
 * --db-url or SUPABASE_DB_URL. The worker is probed at the URL stored in Vault (what pg_net calls).
 */
import path from 'node:path';
import pg from 'pg';
import { loadConfig } from '../config/load.ts';
import type { NormalizedConfig } from '../config/model.ts';
import { membershipSql } from '../generator/sql/audience.ts';
import { loadCore } from '../generator/sql/core.ts';
import { expectedTriggers, processorText, sources } from '../generator/sql/source.ts';
import { parseArgs } from './args.ts';
import type { CommandIo } from './gen.ts';

/** The policies `dispatch.install_realtime_policies()` creates (sql/core/030_realtime.sql). */
const realtimePolicies = [
  'dispatch_read',
  'dispatch_read_guard',
  'dispatch_read_guard_public',
  'dispatch_send_guard',
];

export interface Check {
  name: string;
  ok: boolean;
  /** warn: reported, does not fail the run. */
  level?: 'fail' | 'warn';
  detail?: string;
  fix?: string;
}

type Q = (sql: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;

/** What a probe of the worker got back: an HTTP status (and the start of the body), or no answer. */
export interface ProbeResult {
  status?: number;
  body?: string;
  /** Set when nothing answered: refused, DNS, TLS, timeout. */
  error?: string;
}

export type WorkerProbe = (url: string, secret: string, timeoutMs: number) => Promise<ProbeResult>;

export interface DoctorOptions {
  /** How the worker is called (default: an HTTP POST, see probeWorker). */
  probe?: WorkerProbe;
  /** Bound on the probe (default 5000 ms). */
  probeTimeoutMs?: number;
}

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
  if (status >= 200 && status < 300) return { name, ok: true, detail: `HTTP ${status} from ${where}` };
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

/** A column an audience filter reads that decides admin rights or audience-topic membership. */
export interface AudienceColumn {
  schema: string;
  table: string;
  column: string;
  /** Why it matters: `admin audience "staff"`, `audience "vip" (topic)`. */
  uses: string[];
}

/**
 * The columns read by the filters of the admin audience and of every audience whose membership does
 * not depend on a row (topics `dispatch:audience:<name>`, audience counters). A user who can write
 * one of them can put themselves in the audience.
 */
export function audienceFilterColumns(config: NormalizedConfig): AudienceColumn[] {
  const byKey = new Map<string, AudienceColumn>();
  for (const a of config.audiences) {
    if (a.kind !== 'filter') continue;
    const isAdmin = config.admin === a.name;
    const topical = membershipSql(a, 'x') !== null;
    if (!isAdmin && !topical) continue;
    const use = isAdmin ? `admin audience "${a.name}"` : `audience "${a.name}" (topic)`;
    for (const w of a.where) {
      const key = `${a.from.schema}.${a.from.name}.${w.column}`;
      const entry = byKey.get(key) ?? {
        schema: a.from.schema,
        table: a.from.name,
        column: w.column,
        uses: [],
      };
      entry.uses.push(use);
      byKey.set(key, entry);
    }
  }
  return [...byKey.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, v]) => v);
}

const quoteIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;

/**
 * Which audience filter columns `authenticated` may write: the column privilege (UPDATE or INSERT)
 * and whether RLS lets it through (RLS off, or a policy for UPDATE / INSERT / ALL that applies to
 * authenticated). A privilege that only RLS blocks is a warning; one that RLS lets through fails.
 */
export async function audienceColumnsCheck(query: Q, config: NormalizedConfig): Promise<Check | null> {
  const cols = audienceFilterColumns(config);
  if (cols.length === 0) return null;
  const name = 'audience filters read no column users can write';
  const [{ role } = {}] = await query(
    `select exists (select from pg_roles where rolname = 'authenticated') as role`,
  );
  if (!role) return { name, ok: true, detail: 'no authenticated role' };
  const open: string[] = [];
  const guarded: string[] = [];
  const fixes: string[] = [];
  for (const c of cols) {
    const rel = `${quoteIdent(c.schema)}.${quoteIdent(c.table)}`;
    const rows = await query(
      `select
         has_column_privilege('authenticated', cl.oid, $3, 'UPDATE') as can_update,
         has_column_privilege('authenticated', cl.oid, $3, 'INSERT') as can_insert,
         cl.relrowsecurity as rls,
         coalesce(array_agg(p.policyname::text order by p.policyname) filter (where p.policyname is not null), '{}') as policies
       from pg_class cl
       join pg_namespace n on n.oid = cl.relnamespace
       join pg_attribute at on at.attrelid = cl.oid and at.attname = $3 and not at.attisdropped
       left join pg_policies p on p.schemaname = n.nspname and p.tablename = cl.relname
         and p.permissive = 'PERMISSIVE' and p.cmd in ('UPDATE', 'INSERT', 'ALL')
         and p.roles && array['authenticated', 'public']::name[]
       where n.nspname = $1 and cl.relname = $2
       group by cl.oid, cl.relrowsecurity`,
      [c.schema, c.table, c.column],
    );
    const r = rows[0];
    if (!r || (!r.can_update && !r.can_insert)) continue;
    const privs = [r.can_update ? 'UPDATE' : '', r.can_insert ? 'INSERT' : ''].filter(Boolean).join('/');
    const policies = (r.policies as string[] | null) ?? [];
    const label = `${c.schema}.${c.table}.${c.column} (${c.uses.join(', ')}): authenticated has ${privs}`;
    if (!r.rls) open.push(`${label}, RLS off`);
    else if (policies.length) open.push(`${label}, allowed by policy ${policies.join(', ')}`);
    else guarded.push(`${label}, only RLS (no update/insert policy) stops it`);
    fixes.push(
      `revoke insert, update on ${rel} from anon, authenticated; grant update (<the columns users may edit, not ${quoteIdent(c.column)}>) on ${rel} to authenticated;`,
    );
  }
  if (open.length === 0 && guarded.length === 0) {
    return { name, ok: true, detail: `${cols.length} column${cols.length === 1 ? '' : 's'} checked` };
  }
  const fix = `${[...new Set(fixes)].join(' ')} Or decide admins by a rule users cannot write: omit \`admin\` in dispatch.config.ts (the core's dispatch.admins table or app_metadata.role = 'admin').`;
  if (open.length) return { name, ok: false, detail: [...open, ...guarded].join('; '), fix };
  return { name, ok: false, level: 'warn', detail: guarded.join('; '), fix };
}

export async function runChecks(
  query: Q,
  config: NormalizedConfig | null,
  expectedVersion: string,
  options: DoctorOptions = {},
): Promise<Check[]> {
  const checks: Check[] = [];
  const one = async (sql: string, params?: unknown[]) => (await query(sql, params))[0] ?? {};

  const { installed } = await one(`select to_regprocedure('dispatch.version()') is not null as installed`);
  if (!installed) {
    checks.push({
      name: 'core installed',
      ok: false,
      detail: 'schema dispatch / dispatch.version() not found',
      fix: 'run `npx supadispatch gen` then `supabase db push`',
    });
    return checks;
  }
  const { version } = await one('select dispatch.version() as version');
  checks.push({
    name: `core version ${expectedVersion}`,
    ok: version === expectedVersion,
    detail: `installed ${version}`,
    fix:
      version === expectedVersion
        ? undefined
        : 'run `npx supadispatch gen` (embeds the new core) then `supabase db push`',
  });

  const { hasChanges } = await one(`select to_regclass('dispatch.changes') is not null as "hasChanges"`);
  if (config) {
    // Capture triggers of the source tables and the strict events' own triggers; also the per-event /
    // per-counter triggers of earlier generators (dispatch_ev_* / dispatch_ct_*), which must be gone.
    const expected = new Set(expectedTriggers(config).map((t) => `${t.name} on ${t.table}`));
    const rows = await query(
      `select t.tgname as name, n.nspname || '.' || c.relname as tbl
       from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
       where not t.tgisinternal
         and (t.tgname like 'dispatch\\_ev\\_%' or t.tgname like 'dispatch\\_ct\\_%' or t.tgname like 'dispatch\\_capture\\_%')`,
    );
    const actual = new Set(rows.map((r) => `${r.name} on ${r.tbl}`));
    const missing = [...expected].filter((t) => !actual.has(t)).sort();
    const extra = [...actual].filter((t) => !expected.has(t)).sort();
    checks.push({
      name: 'triggers match the config',
      ok: missing.length === 0 && extra.length === 0,
      detail: [
        missing.length ? `missing: ${missing.join(', ')}` : '',
        extra.length ? `not in config: ${extra.join(', ')}` : '',
      ]
        .filter(Boolean)
        .join('; '),
      fix: 'run `npx supadispatch gen` then `supabase db push`',
    });
    if (hasChanges) {
      const want = new Map(
        sources(config).map((s) => [`${s.table.schema}.${s.table.name}`, processorText(s)]),
      );
      const got = new Map(
        (
          await query(
            `select s.source_table, s.processor,
                    to_regprocedure(s.processor || '(dispatch.changes[])') is not null as exists
             from dispatch.sources s`,
          )
        ).map((r) => [String(r.source_table), { processor: String(r.processor), exists: r.exists === true }]),
      );
      const problems: string[] = [];
      for (const [tbl, fn] of [...want].sort()) {
        const g = got.get(tbl);
        if (!g) problems.push(`${tbl} not registered`);
        else if (g.processor !== fn) problems.push(`${tbl} → ${g.processor} (expected ${fn})`);
        else if (!g.exists) problems.push(`${tbl} → ${fn}(dispatch.changes[]) does not exist`);
      }
      for (const tbl of [...got.keys()].sort()) if (!want.has(tbl)) problems.push(`${tbl} not in config`);
      checks.push({
        name: 'change processors registered for the source tables',
        ok: problems.length === 0,
        detail: problems.length
          ? problems.join('; ')
          : `${want.size} source table${want.size === 1 ? '' : 's'}`,
        fix: 'run `npx supadispatch gen` then `supabase db push`',
      });
    }
    const writable = await audienceColumnsCheck(query, config);
    if (writable) checks.push(writable);
  }

  const ext = await query(`select extname from pg_extension where extname in ('pg_cron', 'pg_net')`);
  const exts = new Set(ext.map((r) => String(r.extname)));
  const { netSchema } = await one(`select to_regnamespace('net') is not null as "netSchema"`);
  checks.push({
    name: 'pg_cron present',
    ok: exts.has('pg_cron'),
    fix: 'enable pg_cron (Dashboard → Database → Extensions), then re-run the core migration or select dispatch.schedule_jobs()',
  });
  checks.push({
    name: 'pg_net present',
    ok: exts.has('pg_net') || netSchema === true,
    fix: 'enable pg_net (Dashboard → Database → Extensions)',
  });
  if (exts.has('pg_cron')) {
    const { n } = await one(`select count(*)::int as n from cron.job where command ilike '%dispatch.tick%'`);
    checks.push({
      name: 'dispatch.tick() scheduled',
      ok: Number(n) > 0,
      fix: "select cron.schedule('dispatch-tick', '* * * * *', 'select dispatch.tick()');",
    });
  }
  const { vault } = await one(`select to_regclass('vault.decrypted_secrets') is not null as vault`);
  if (vault) {
    // As the connecting role (on hosted, postgres may read vault.decrypted_secrets).
    let secrets: Map<string, string> | null = null;
    try {
      const rows = await query(
        `select name, decrypted_secret as value from vault.decrypted_secrets
         where name in ('dispatch_worker_url', 'dispatch_worker_secret') and coalesce(decrypted_secret, '') <> ''`,
      );
      secrets = new Map(rows.map((r) => [String(r.name), String(r.value ?? '')]));
    } catch (e) {
      checks.push({
        name: 'Vault readable',
        ok: false,
        detail: (e as Error).message,
        fix: 'run doctor as the postgres role (the database URL from Project Settings → Database), which may read vault.decrypted_secrets',
      });
    }
    if (secrets) {
      for (const s of ['dispatch_worker_url', 'dispatch_worker_secret']) {
        checks.push({
          name: `Vault secret ${s}`,
          ok: secrets.has(s),
          fix:
            s === 'dispatch_worker_url'
              ? "select vault.create_secret('https://<project>.supabase.co/functions/v1/dispatch-worker', 'dispatch_worker_url');"
              : "select vault.create_secret('<random secret, also set as DISPATCH_WORKER_SECRET for the functions>', 'dispatch_worker_secret');",
        });
      }
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
    }
  } else checks.push({ name: 'Vault available', ok: false, fix: 'enable the supabase_vault extension' });

  const pol = await query(
    `select policyname from pg_policies where schemaname = 'realtime' and tablename = 'messages' and policyname like 'dispatch%'`,
  );
  // The read policy lets users receive their topics; the three guards keep every other policy of
  // the project from opening dispatch:* topics or letting clients send on them. All four are needed.
  const missingPolicies = realtimePolicies.filter((name) => !pol.some((r) => r.policyname === name));
  checks.push({
    name: 'Realtime policies on realtime.messages',
    ok: missingPolicies.length === 0,
    detail: pol.length
      ? `found ${pol.map((r) => r.policyname).join(', ')}${missingPolicies.length ? `; missing ${missingPolicies.join(', ')}` : ''}`
      : 'none',
    fix: 'as the owner of realtime.messages: select dispatch.install_realtime_policies();',
  });

  const stuck = await one(
    `select count(*) filter (where status = 'failed')::int as failed,
            count(*) filter (where status in ('pending', 'scheduled') and next_attempt_at < now() - interval '5 minutes')::int as overdue
     from dispatch.receipts`,
  );
  checks.push({
    name: 'no receipts overdue (pending past due > 5 min)',
    ok: Number(stuck.overdue) === 0,
    detail: `${stuck.overdue} overdue`,
    fix: 'check the worker: Vault secrets, pg_net, `supabase functions logs dispatch-worker`; select dispatch.tick();',
  });
  checks.push({
    name: 'no failed receipts',
    ok: Number(stuck.failed) === 0,
    level: 'warn',
    detail: `${stuck.failed} failed`,
    fix: "inspect: select id, last_error from dispatch.receipts where status = 'failed'; retry with select dispatch.requeue_receipt(id)",
  });
  const occ = await one(`select count(*)::int as n from dispatch.occurrences where status = 'failed'`);
  checks.push({
    name: 'no failed occurrences',
    ok: Number(occ.n) === 0,
    level: 'warn',
    detail: `${occ.n} failed`,
    fix: "inspect: select id, event_id, error from dispatch.occurrences where status = 'failed'; then select dispatch.replay(id)",
  });
  if (hasChanges) {
    const ch = await one(
      `select count(*) filter (where error is not null)::int as failed,
              count(*) filter (where error is null and captured_at < now() - interval '5 minutes')::int as waiting,
              min(id) filter (where error is not null) as first_failed
       from dispatch.changes`,
    );
    checks.push({
      name: 'no captured changes waiting (> 5 min unprocessed)',
      ok: Number(ch.waiting) === 0,
      detail: `${ch.waiting} waiting`,
      fix: 'nothing drains dispatch.changes: check that dispatch.tick() is scheduled and the worker answers (above); process now with select dispatch.drain();',
    });
    checks.push({
      name: 'no captured changes stuck with an error',
      ok: Number(ch.failed) === 0,
      detail: `${ch.failed} change${Number(ch.failed) === 1 ? '' : 's'} failed processing (their events did not fire and their counters did not move)${ch.first_failed ? `, first #${ch.first_failed}` : ''}`,
      fix: 'inspect: select id, source_table, operation, attempts, error from dispatch.changes where error is not null order by id; fix the cause (e.g. `npx supadispatch gen` + `supabase db push` for a missing processor), then per change: select dispatch.replay_change(id);',
    });
  }
  const drift = await query(
    `select name, scope, expected, actual from dispatch.reconcile_counters(null, false) where expected <> actual limit 20`,
  );
  // Counter deltas are applied when captured changes are drained: with some still waiting, a
  // difference may be just them, so it is a warning that says so, not a failure.
  const pending = hasChanges
    ? Number((await one(`select count(*)::int as n from dispatch.changes where error is null`)).n)
    : 0;
  const differences = drift.map((d) => `${d.name}[${d.scope}] ${d.actual} ≠ ${d.expected}`).join(', ');
  checks.push({
    name: 'counters match reconcile',
    ok: drift.length === 0,
    ...(pending > 0 && drift.length > 0 ? { level: 'warn' as const } : {}),
    detail:
      pending > 0 && drift.length > 0
        ? `${differences} (${pending} captured change${pending === 1 ? '' : 's'} not processed yet: the difference may be them)`
        : differences,
    fix:
      pending > 0
        ? 'select dispatch.drain(); then run doctor again; if they still differ: select * from dispatch.reconcile_counters(); (drains, corrects and broadcasts)'
        : 'select * from dispatch.reconcile_counters(); (corrects and broadcasts)',
  });
  return checks;
}

export function formatChecks(checks: Check[]): { text: string; failed: number } {
  let failed = 0;
  const lines = checks.map((c) => {
    const mark = c.ok ? '✓' : c.level === 'warn' ? '!' : '✗';
    if (!c.ok && c.level !== 'warn') failed++;
    let line = `${mark} ${c.name}${c.detail ? ` — ${c.detail}` : ''}`;
    if (!c.ok && c.fix) line += `\n    fix: ${c.fix}`;
    return line;
  });
  return { text: `${lines.join('\n')}\n`, failed };
}

export async function doctorCommand(argv: string[], io?: CommandIo): Promise<number> {
  const out = io?.out ?? ((s: string) => process.stdout.write(s));
  const err = io?.err ?? ((s: string) => process.stderr.write(s));
  const { flags } = parseArgs(argv, ['db-url', 'config', 'cwd', 'probe-timeout']);
  const root = path.resolve(io?.cwd ?? process.cwd(), typeof flags.cwd === 'string' ? flags.cwd : '.');
  const url = typeof flags['db-url'] === 'string' ? flags['db-url'] : process.env.SUPABASE_DB_URL;
  if (!url) {
    err('supadispatch doctor: no database: pass --db-url <postgres url> or set SUPABASE_DB_URL\n');
    return 2;
  }
  let config: NormalizedConfig | null = null;
  try {
    config = (await loadConfig(root, typeof flags.config === 'string' ? flags.config : undefined)).config;
  } catch (e) {
    out(`! config not loaded (trigger check skipped): ${(e as Error).message.split('\n')[0]}\n`);
  }
  const core = await loadCore();
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
  } catch (e) {
    err(`✗ database reachable — ${(e as Error).message}\n    fix: check --db-url / SUPABASE_DB_URL\n`);
    return 1;
  }
  try {
    const probeTimeoutMs =
      typeof flags['probe-timeout'] === 'string' ? Number(flags['probe-timeout']) : DEFAULT_PROBE_TIMEOUT_MS;
    const checks = await runChecks(
      async (sql, params) => (await client.query(sql, params as unknown[])).rows,
      config,
      core.version,
      {
        probeTimeoutMs:
          Number.isFinite(probeTimeoutMs) && probeTimeoutMs > 0 ? probeTimeoutMs : DEFAULT_PROBE_TIMEOUT_MS,
      },
    );
    const { text, failed } = formatChecks(checks);
    out(text);
    out(failed ? `\n${failed} check${failed === 1 ? '' : 's'} failed\n` : '\nall checks passed\n');
    return failed ? 1 : 0;
  } finally {
    await client.end();
  }
}
