/** Are pg_cron and pg_net there, and does pg_cron run dispatch.tick()? */
import { type Check, type DoctorCheck, firstRow } from './check.ts';

export const extensionsCheck: DoctorCheck = async (query) => {
  const checks: Check[] = [];
  const ext = await query(`select extname from pg_extension where extname in ('pg_cron', 'pg_net')`);
  const exts = new Set(ext.map((r) => String(r.extname)));
  const { netSchema } = await firstRow(query, `select to_regnamespace('net') is not null as "netSchema"`);
  checks.push({
    name: 'pg_cron present',
    ok: exts.has('pg_cron'),
    fix: 'enable pg_cron (Dashboard → Database → Extensions), then re-run the core migration or select dispatch.schedule_jobs()',
  });
  checks.push({
    name: 'pg_net present',
    ok: exts.has('pg_net') || netSchema === true,
    fix: 'enable pg_net (Dashboard → Database → Extensions)',
  });
  if (exts.has('pg_cron')) {
    const { n } = await firstRow(
      query,
      `select count(*)::int as n from cron.job where command ilike '%dispatch.tick%'`,
    );
    checks.push({
      name: 'dispatch.tick() scheduled',
      ok: Number(n) > 0,
      fix: "select cron.schedule('dispatch-tick', '* * * * *', 'select dispatch.tick()');",
    });
  }
  return checks;
};
