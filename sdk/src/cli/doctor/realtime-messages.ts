/**
 * Can the core's broadcasts land in realtime.messages? They are INSERTed as `postgres` (the owner
 * of the core's definer functions), into the daily partition of today (UTC).
 * - postgres's INSERT: granted by Realtime's migrations; one unreleased migration once revoked it,
 *   and then every broadcast fails (a warning each, nothing delivered).
 * - today's partition: hosted Realtime creates partitions only for a project with a connected client
 *   (on connect and from its janitor: RT tenants/connect.ex, janitor.ex). An idle project has none,
 *   and the core drops broadcasts with one warning per transaction until a client connects. Nobody
 *   is listening then, so it is a warning, not a failure.
 */
import { type DoctorCheck, firstRow } from './check.ts';

export const realtimeMessagesCheck: DoctorCheck = async (query) => {
  const row = await firstRow(
    query,
    `select to_regclass('realtime.messages') is not null as "exists",
            case when to_regclass('realtime.messages') is null then false
                 else has_table_privilege('postgres', 'realtime.messages', 'INSERT') end as "postgresInsert",
            'messages_' || to_char(now() at time zone 'utc', 'YYYY_MM_DD') as "partition",
            to_regclass('realtime.messages_' || to_char(now() at time zone 'utc', 'YYYY_MM_DD')) is not null as "todayPartition"`,
  );
  if (row.exists !== true) {
    return [
      {
        name: 'realtime.messages',
        ok: false,
        detail: 'the table does not exist: Realtime (Broadcast from Database) is not set up on this database',
        fix: 'enable Realtime for the project (hosted: it is there by default); locally: supadispatch local start',
      },
    ];
  }
  return [
    {
      name: 'postgres can INSERT into realtime.messages',
      ok: row.postgresInsert === true,
      detail: row.postgresInsert === true ? 'yes' : 'no: every broadcast of the core fails (a WARNING each)',
      fix: 'as supabase_admin (on hosted: ask Supabase support): grant select, insert, update on realtime.messages to postgres;',
    },
    {
      name: 'realtime.messages partition for today (UTC)',
      ok: row.todayPartition === true,
      level: 'warn',
      detail:
        row.todayPartition === true
          ? `realtime.${String(row.partition)}`
          : `no realtime.${String(row.partition)}: broadcasts are dropped (one warning per transaction) until a Realtime client connects`,
      fix: 'open the app (any Realtime client connecting makes Realtime create the partitions); locally, supadispatch local start creates them',
    },
  ];
};
