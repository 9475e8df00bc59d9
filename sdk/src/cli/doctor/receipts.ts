/** Are receipts being delivered: none left pending past due, none failed? */
import { type DoctorCheck, firstRow } from './check.ts';

export const receiptsCheck: DoctorCheck = async (query) => {
  const stuck = await firstRow(
    query,
    `select count(*) filter (where status = 'failed')::int as failed,
            count(*) filter (where status in ('pending', 'scheduled') and next_attempt_at < now() - interval '5 minutes')::int as overdue
     from dispatch.receipts`,
  );
  return [
    {
      name: 'no receipts overdue (pending past due > 5 min)',
      ok: Number(stuck.overdue) === 0,
      detail: `${stuck.overdue} overdue`,
      fix: 'check the worker: Vault secrets, pg_net, `supabase functions logs dispatch-worker`; select dispatch.tick();',
    },
    {
      name: 'no failed receipts',
      ok: Number(stuck.failed) === 0,
      level: 'warn',
      detail: `${stuck.failed} failed`,
      fix: "inspect: select id, last_error from dispatch.receipts where status = 'failed'; retry with select dispatch.requeue_receipt(id)",
    },
  ];
};
