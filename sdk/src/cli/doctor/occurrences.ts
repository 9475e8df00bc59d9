/** Did every occurrence of an event expand into its receipts? */
import { type DoctorCheck, firstRow } from './check.ts';

export const occurrencesCheck: DoctorCheck = async (query) => {
  const occ = await firstRow(
    query,
    `select count(*)::int as n from dispatch.occurrences where status = 'failed'`,
  );
  return [
    {
      name: 'no failed occurrences',
      ok: Number(occ.n) === 0,
      level: 'warn',
      detail: `${occ.n} failed`,
      fix: "inspect: select id, event_id, error from dispatch.occurrences where status = 'failed'; then select dispatch.replay(id)",
    },
  ];
};
