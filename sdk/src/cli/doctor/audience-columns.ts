/**
 * Can a signed-in user write a column that decides who is an admin or who is in an audience topic?
 * Then they can put themselves in that audience.
 */
import type { NormalizedConfig } from '../../config/model.ts';
import { membershipSql } from '../../generator/sql/audience.ts';
import { type DoctorCheck, plural } from './check.ts';

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
 * Nothing to report (no check) when no such column is configured.
 */
export const audienceColumnsCheck: DoctorCheck = async (query, config) => {
  const cols = config ? audienceFilterColumns(config) : [];
  if (cols.length === 0) return [];
  const name = 'audience filters read no column users can write';
  const [{ role } = {}] = await query(
    `select exists (select from pg_roles where rolname = 'authenticated') as role`,
  );
  if (!role) return [{ name, ok: true, detail: 'no authenticated role' }];
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
    return [{ name, ok: true, detail: `${plural(cols.length, 'column')} checked` }];
  }
  const fix = `${[...new Set(fixes)].join(' ')} Or decide admins by a rule users cannot write: omit \`admin\` in dispatch.config.ts (the core's dispatch.admins table or app_metadata.role = 'admin').`;
  if (open.length) return [{ name, ok: false, detail: [...open, ...guarded].join('; '), fix }];
  return [{ name, ok: false, level: 'warn', detail: guarded.join('; '), fix }];
};
