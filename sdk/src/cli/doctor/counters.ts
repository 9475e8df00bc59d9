/** Do the counters hold what a recount from the source tables gives? */
import { type DoctorCheck, firstRow, hasChangesTable, plural } from './check.ts';

export const countersCheck: DoctorCheck = async (query) => {
  const drift = await query(
    `select name, scope, expected, actual from dispatch.reconcile_counters(null, false) where expected <> actual limit 20`,
  );
  // Counter deltas are applied when captured changes are drained: with some still waiting, a
  // difference may be just them, so it is a warning that says so, not a failure.
  const pending = (await hasChangesTable(query))
    ? Number((await firstRow(query, `select count(*)::int as n from dispatch.changes where error is null`)).n)
    : 0;
  const differences = drift.map((d) => `${d.name}[${d.scope}] ${d.actual} ≠ ${d.expected}`).join(', ');
  return [
    {
      name: 'counters match reconcile',
      ok: drift.length === 0,
      ...(pending > 0 && drift.length > 0 ? { level: 'warn' as const } : {}),
      detail:
        pending > 0 && drift.length > 0
          ? `${differences} (${plural(pending, 'captured change')} not processed yet: the difference may be them)`
          : differences,
      fix:
        pending > 0
          ? 'select dispatch.drain(); then run doctor again; if they still differ: select * from dispatch.reconcile_counters(); (drains, corrects and broadcasts)'
          : 'select * from dispatch.reconcile_counters(); (corrects and broadcasts)',
    },
  ];
};
