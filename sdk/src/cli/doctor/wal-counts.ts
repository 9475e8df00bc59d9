/**
 * Counts from the WAL (core 066_counts_from_wal.sql): is the slot there and read, and how much WAL
 * does it hold? A slot nobody reads keeps every WAL segment from its restart point on disk.
 */
import { type DoctorCheck, firstRow, plural } from './check.ts';

/** Retained WAL above this is reported (a warning: drains may not be running). */
const RETAINED_WARN_BYTES = 1024 ** 3;
/** A live table whose counts were last published longer ago than this is reported. */
const STALE_PUBLISH_SECONDS = 180;

export const walCountsCheck: DoctorCheck = async (query) => {
  const core = await firstRow(query, `select to_regclass('dispatch.wal_count_sources') is not null as ok`);
  if (!core.ok) return [];
  const s = await firstRow(
    query,
    `select count(*) filter (where src.live)::int as live,
            count(*) filter (where src.wanted and not src.live)::int as waiting,
            dispatch.wal_counts_available() as available,
            current_setting('wal_level') as wal_level,
            st.last_error, extract(epoch from now() - st.published_at)::int as published_ago,
            sl.wal_status, (pg_current_wal_lsn() - sl.restart_lsn)::bigint as retained
     from dispatch.wal_count_sources src
     cross join dispatch.wal_count_state st
     left join pg_replication_slots sl on sl.slot_name = dispatch.wal_count_slot()
     group by st.last_error, st.published_at, sl.wal_status, sl.restart_lsn`,
  );
  const live = Number(s.live ?? 0);
  const waiting = Number(s.waiting ?? 0);
  if (live === 0 && waiting === 0) return [];
  const retained = Number(s.retained ?? 0);
  const mib = (n: number) => `${Math.round(n / 1024 ** 2)} MiB`;
  if (live > 0 && (s.wal_status === null || s.wal_status === undefined || s.wal_status === 'lost'))
    return [
      {
        name: 'counts from the WAL',
        ok: false,
        detail: `${plural(live, 'table')} counted from the WAL, but the slot supadispatch_counts is ${s.wal_status === 'lost' ? 'lost' : 'missing'}: their writes are not counted`,
        fix: 'select dispatch.tick(); (creates the slot and recounts those counters; pg_cron runs it every minute)',
      },
    ];
  const checks = [];
  if (waiting > 0)
    checks.push({
      name: 'counts from the WAL',
      ok: false,
      level: 'warn' as const,
      detail: s.available
        ? `${plural(waiting, 'table')} counted by the writers until dispatch.tick() creates the slot${s.last_error ? ` (last try: ${s.last_error})` : ''}`
        : `${plural(waiting, 'table')} counted by the writers: wal_level is ${s.wal_level}, the setting count_from_wal is off, or postgres may not replicate`,
      fix: s.available
        ? 'check that pg_cron runs dispatch-tick (select * from cron.job_run_details order by start_time desc limit 5)'
        : 'nothing is lost: counting in the write is exact, only slower',
    });
  if (live > 0)
    checks.push({
      name: 'WAL-count slot',
      ok: retained < RETAINED_WARN_BYTES && Number(s.published_ago ?? 0) < STALE_PUBLISH_SECONDS,
      level: 'warn' as const,
      detail: `${plural(live, 'table')} counted from the WAL; the slot holds ${mib(retained)} of WAL; last publish ${s.published_ago ?? '?'} s ago`,
      fix: 'drains publish the counts: check that the worker and pg_cron run (select dispatch.tick();)',
    });
  return checks;
};
