/**
 * Shared pieces of the attack suite (`e2e/attacks/`, issue 21 "Attacks and bad input"):
 * - {@link Scoreboard}: every attack is counted as tried, and as succeeded when its check fails;
 *   each file writes `.supadispatch/attacks/<area>.json` and refreshes `summary.json` beside it
 *   (docs/reliability.md (Attacks and bad input) quotes that summary);
 * - the cast: a victim with notifications, preferences, counters and receipts, an attacker who is
 *   another signed-in non-admin, an admin, and the anon key (all made through the real Auth API,
 *   so the files also run against a real Supabase);
 * - {@link fingerprint}: a digest of every row an attack could move (the victim's and the run's),
 *   compared before and after each batch of attacks.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { repoRoot } from '../../local/src/paths.ts';

export const resultsDir = join(repoRoot, '.supadispatch', 'attacks');

export interface AreaResult {
  area: string;
  finishedAt: string;
  tried: number;
  succeeded: number;
  /** Names of the attacks that got through (empty when the area holds). */
  breaches: string[];
}

/** Counts the attacks of one area (one test file). */
export class Scoreboard {
  private tried = 0;
  private readonly breaches: string[] = [];
  constructor(readonly area: string) {}

  /**
   * Runs one attack: `check` throws (an assertion) when the attack got through. The failure is
   * counted and rethrown, so the test fails too.
   */
  async attack<T>(name: string, check: () => Promise<T> | T): Promise<T> {
    this.tried++;
    try {
      return await check();
    } catch (error) {
      this.breaches.push(name);
      throw error;
    }
  }

  /** Many attacks of one kind (a fast-check property counts its runs); `breached` when it failed. */
  count(name: string, runs: number, breached: boolean): void {
    this.tried += runs;
    if (breached) this.breaches.push(name);
  }

  get total(): number {
    return this.tried;
  }

  /** Writes this area's figures and refreshes the summary of every area on disk. */
  write(): AreaResult {
    const result: AreaResult = {
      area: this.area,
      finishedAt: new Date().toISOString(),
      tried: this.tried,
      succeeded: this.breaches.length,
      breaches: this.breaches,
    };
    mkdirSync(resultsDir, { recursive: true });
    writeAtomic(join(resultsDir, `${this.area}.json`), result);
    writeSummary();
    return result;
  }
}

/** Sums every area file into `summary.json` (also run by hand: `npx tsx e2e/attacks/summary.ts`). */
export function writeSummary(): { tried: number; succeeded: number; areas: AreaResult[] } {
  const areas = readdirSync(resultsDir)
    .filter((f) => f.endsWith('.json') && f !== 'summary.json')
    .map((f) => JSON.parse(readFileSync(join(resultsDir, f), 'utf8')) as AreaResult)
    .sort((a, b) => a.area.localeCompare(b.area));
  const summary = {
    tried: areas.reduce((n, a) => n + a.tried, 0),
    succeeded: areas.reduce((n, a) => n + a.succeeded, 0),
    areas,
  };
  writeAtomic(join(resultsDir, 'summary.json'), summary);
  return summary;
}

function writeAtomic(path: string, value: unknown): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(tmp, path);
}

/**
 * A digest of the rows an attacker could try to read or move: everything of the given users in
 * the dispatch tables, and the run's events, occurrences, receipts and changes. Two equal
 * fingerprints mean no such row was inserted, updated or deleted in between.
 */
export async function fingerprint(db: pg.Pool, userIds: string[], runPrefix: string): Promise<string> {
  const { rows } = await db.query<{ digest: string }>(
    `select md5(concat_ws('|',
       (select string_agg(n::text, ',' order by n.id) from dispatch.notifications n where n.user_id = any($1::uuid[])),
       (select string_agg(p::text, ',' order by p::text) from dispatch.preferences p where p.user_id = any($1::uuid[])),
       (select string_agg(s::text, ',' order by s.name, s.scope) from dispatch.counter_state s
          where s.scope = any($1::text[]) or s.name like $2),
       (select string_agg(r::text, ',' order by r.id) from dispatch.receipts r
          where r.user_id = any($1::uuid[]) or r.event_id like $2),
       (select string_agg(o::text, ',' order by o.id) from dispatch.occurrences o where o.event_id like $2),
       (select string_agg(e::text, ',' order by e.id) from dispatch.events e where e.id like $2),
       (select string_agg(a::text, ',' order by a.user_id) from dispatch.admins a),
       (select string_agg(m::text, ',' order by m.audience, m.user_id) from dispatch.audience_members m),
       (select count(*)::text from dispatch.changes),
       (select count(*)::text from dispatch.manual_triggers)
     )) as digest`,
    [userIds, `${runPrefix}%`],
  );
  return rows[0].digest;
}

/** Every client-facing function the database has: `public.dispatch_*`, with argument names and types. */
export async function publicDispatchFunctions(
  db: pg.Pool,
): Promise<{ name: string; signature: string; args: { name: string; type: string }[] }[]> {
  const { rows } = await db.query<{ name: string; signature: string; names: string[]; types: string[] }>(
    `select p.proname as name, p.oid::regprocedure::text as signature,
            coalesce(p.proargnames[1:p.pronargs], '{}') as names,
            array(select format_type(t, null) from unnest(p.proargtypes) t) as types
       from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = 'public' and p.proname like 'dispatch\\_%'
      order by p.proname`,
  );
  return rows.map((r) => ({
    name: r.name,
    signature: r.signature,
    args: r.types.map((type, i) => ({ name: r.names[i] ?? '', type })),
  }));
}

/** A PostgREST or RPC error that means "refused" (not a crash, not a success). */
export function refusal(error: { code?: string; message?: string } | null): boolean {
  if (!error) return false;
  return ['42501', 'PGRST301', 'PGRST302', 'PGRST202', 'PGRST106', '42P01', '401', '403'].includes(
    String(error.code),
  );
}
