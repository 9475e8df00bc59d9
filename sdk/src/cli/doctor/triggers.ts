/**
 * Do the installed triggers match the config? The capture triggers of the source tables and the
 * strict events' own triggers must be there; per-event / per-counter triggers of earlier generators
 * (and those of events or tables no longer in the config) must be gone.
 */
import { TRIGGER_PREFIXES } from '../../generator/sql/names.ts';
import { expectedTriggers } from '../../generator/sql/source.ts';
import { type DoctorCheck, GEN_AND_PUSH } from './check.ts';

/** A LIKE pattern matching the names that begin with `prefix`. */
const startsWith = (prefix: string) => `${prefix.replace(/[\\%_]/g, '\\$&')}%`;

export const triggersCheck: DoctorCheck = async (query, config) => {
  if (!config) return [];
  const expected = new Set(expectedTriggers(config).map((t) => `${t.name} on ${t.table}`));
  const rows = await query(
    `select t.tgname as name, n.nspname || '.' || c.relname as tbl
     from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
     where not t.tgisinternal and t.tgname like any($1::text[])`,
    [Object.values(TRIGGER_PREFIXES).map(startsWith)],
  );
  const actual = new Set(rows.map((r) => `${r.name} on ${r.tbl}`));
  const missing = [...expected].filter((t) => !actual.has(t)).sort();
  const extra = [...actual].filter((t) => !expected.has(t)).sort();
  return [
    {
      name: 'triggers match the config',
      ok: missing.length === 0 && extra.length === 0,
      detail: [
        missing.length ? `missing: ${missing.join(', ')}` : '',
        extra.length ? `not in config: ${extra.join(', ')}` : '',
      ]
        .filter(Boolean)
        .join('; '),
      fix: GEN_AND_PUSH,
    },
  ];
};
