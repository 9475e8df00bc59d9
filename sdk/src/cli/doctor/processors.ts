/** Is every source table registered with the change processor the generator made for it? */
import { processorText, sources } from '../../generator/sql/source.ts';
import { type DoctorCheck, GEN_AND_PUSH, hasChangesTable, plural } from './check.ts';

export const processorsCheck: DoctorCheck = async (query, config) => {
  if (!config || !(await hasChangesTable(query))) return [];
  const want = new Map(sources(config).map((s) => [`${s.table.schema}.${s.table.name}`, processorText(s)]));
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
  return [
    {
      name: 'change processors registered for the source tables',
      ok: problems.length === 0,
      detail: problems.length ? problems.join('; ') : plural(want.size, 'source table'),
      fix: GEN_AND_PUSH,
    },
  ];
};
