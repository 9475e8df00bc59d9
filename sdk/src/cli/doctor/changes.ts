/** Are captured changes drained: none waiting long, none stuck with an error? */
import { type DoctorCheck, firstRow, hasChangesTable, plural } from './check.ts';

export const capturedChangesCheck: DoctorCheck = async (query) => {
  if (!(await hasChangesTable(query))) return [];
  const ch = await firstRow(
    query,
    `select count(*) filter (where error is not null)::int as failed,
            count(*) filter (where error is null and captured_at < now() - interval '5 minutes')::int as waiting,
            min(id) filter (where error is not null) as first_failed
     from dispatch.changes`,
  );
  return [
    {
      name: 'no captured changes waiting (> 5 min unprocessed)',
      ok: Number(ch.waiting) === 0,
      detail: `${ch.waiting} waiting`,
      fix: 'nothing drains dispatch.changes: check that dispatch.tick() is scheduled and the worker answers (above); process now with select dispatch.drain();',
    },
    {
      name: 'no captured changes stuck with an error',
      ok: Number(ch.failed) === 0,
      detail: `${plural(Number(ch.failed), 'change')} failed processing (their events did not fire and their counters did not move)${ch.first_failed ? `, first #${ch.first_failed}` : ''}`,
      fix: 'inspect: select id, source_table, operation, attempts, error from dispatch.changes where error is not null order by id; fix the cause (e.g. `npx supadispatch gen` + `supabase db push` for a missing processor), then per change: select dispatch.replay_change(id);',
    },
  ];
};
