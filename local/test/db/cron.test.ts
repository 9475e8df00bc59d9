/**
 * pg_cron jobs run (issue 22, item 9). pg_cron runs each job over libpq as the job's owner, without a
 * password: hosted trusts loopback, the local stack points `cron.host` at its trusted socket
 * directory (local/src/db/cluster.ts). Before that every job failed with `connection failed`, so
 * dispatch.tick() -- the only drain when no worker runs -- never ran here.
 *
 * Schedules a probe job each minute (pg_cron 1.4 here: no `N seconds` schedules) and waits, bounded,
 * for a succeeded run in cron.job_run_details; also for one of the plugin's `dispatch-tick`. Runs
 * against the local stack or a real project (SUPABASE_DB_URL, as postgres).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { missingTargetMessage, testTarget } from '../support/env.ts';

const target = testTarget();
const pollMs = 2000;
const maxPolls = 75; // a minute-schedule job gets two chances

test('a scheduled pg_cron job and dispatch-tick succeed', { timeout: 240_000 }, async (t) => {
  if (!target) return t.skip(missingTargetMessage);
  const db = new pg.Client({ connectionString: target.dbUrl });
  await db.connect();
  const name = `supadispatch-cron-probe-${process.pid}-${Date.now().toString(36)}`;
  try {
    const cron = await db.query(`select to_regnamespace('cron') is not null as ok`);
    if (!cron.rows[0].ok) return t.skip('pg_cron is not installed on this database');
    const { rows } = await db.query<{ jobid: string }>(
      `select cron.schedule($1, '* * * * *', $$select 'supadispatch cron probe'$$) as jobid`,
      [name],
    );
    const jobid = rows[0]?.jobid;
    const tick = await db.query<{ jobid: string }>(
      `select jobid from cron.job where jobname = 'dispatch-tick'`,
    );
    const tickId = tick.rows[0]?.jobid;
    let probe: { status: string; return_message: string } | undefined;
    let tickRun: { status: string; return_message: string } | undefined;
    for (let i = 0; i < maxPolls && (!probe || (tickId && !tickRun)); i++) {
      await new Promise((resolve) => setTimeout(resolve, pollMs));
      const runs = await db.query<{ jobid: string; status: string; return_message: string }>(
        `select jobid::text, status, return_message from cron.job_run_details
         where jobid = any($1::bigint[]) and status in ('succeeded', 'failed') order by runid desc`,
        [[jobid, tickId].filter(Boolean)],
      );
      probe ??= runs.rows.find((r) => r.jobid === String(jobid));
      tickRun ??= runs.rows.find((r) => r.jobid === String(tickId));
    }
    assert.ok(probe, 'the probe job ran within two minutes');
    assert.equal(probe.status, 'succeeded', `probe job: ${probe.return_message}`);
    if (tickId) {
      assert.ok(tickRun, 'dispatch-tick ran');
      assert.equal(tickRun.status, 'succeeded', `dispatch-tick: ${tickRun.return_message}`);
    }
  } finally {
    await db.query(`select cron.unschedule(jobid) from cron.job where jobname = $1`, [name]).catch(() => {});
    await db.end();
  }
});
