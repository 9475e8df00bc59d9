/**
 * ensureRealtimePartitions keeps yesterday..today+3 and drops partitions older than today-3.
 * Runs inside a transaction that is rolled back, pretending "now" is ten days ahead.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { bootstrapDir } from '../../src/db/bootstrap.ts';
import { ensureRealtimePartitions, partitionMode, partitionName } from '../../src/db/partitions.ts';

const adminUrl = process.env.SUPABASE_ADMIN_DB_URL;
const day = 24 * 60 * 60 * 1000;

test('realtime partitions follow the Realtime janitor', async (t) => {
  if (!adminUrl) return t.skip('SUPABASE_ADMIN_DB_URL is not set (superuser URL of the local stack)');
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query('begin');
    await client.query(`set local lock_timeout = '10s'`);
    const now = new Date();
    const later = new Date(now.getTime() + 10 * day);
    const first = await ensureRealtimePartitions(client, later);
    const expected = [-1, 0, 1, 2, 3].map((o) => partitionName(new Date(later.getTime() + o * day)));
    assert.deepEqual(first.created, expected);
    assert.ok(first.dropped.includes(partitionName(now)), 'today is older than later-3 days: dropped');
    const second = await ensureRealtimePartitions(client, later);
    assert.deepEqual(second, { created: [], dropped: [] }, 'idempotent');
    const { rows } = await client.query(
      `select c.relname, pg_get_userbyid(c.relowner) as owner from pg_inherits i join pg_class c on c.oid = i.inhrelid
       where i.inhparent = 'realtime.messages'::regclass order by 1`,
    );
    assert.deepEqual(
      rows.map((r) => r.relname),
      expected,
    );
    assert.ok(rows.every((r) => r.owner === 'supabase_realtime_admin'));
  } finally {
    await client.query('rollback').catch(() => {});
    await client.end();
  }
});

test('SUPADISPATCH_REALTIME_PARTITIONS: always (default) or on-connect, anything else is refused', () => {
  assert.equal(partitionMode({}), 'always');
  assert.equal(partitionMode({ SUPADISPATCH_REALTIME_PARTITIONS: 'on-connect' }), 'on-connect');
  assert.throws(
    () => partitionMode({ SUPADISPATCH_REALTIME_PARTITIONS: 'never' }),
    /SUPADISPATCH_REALTIME_PARTITIONS must be "always" or "on-connect", not "never"/,
  );
});

test('on-connect: the bootstrap makes no partition for today (an idle hosted project has none)', async (t) => {
  if (!adminUrl) return t.skip('SUPABASE_ADMIN_DB_URL is not set (superuser URL of the local stack)');
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  const today = partitionName(new Date());
  const sql = readFileSync(join(bootstrapDir, '200_realtime.sql'), 'utf8');
  const exists = async () =>
    (await client.query(`select to_regclass($1) is not null as e`, [`realtime.${today}`])).rows[0].e;
  try {
    await client.query('begin');
    await client.query(`set local lock_timeout = '10s'`);
    await client.query(`drop table if exists realtime.${today}`);
    await client.query(`select set_config('supadispatch.realtime_partitions', 'on-connect', true)`);
    await client.query(sql);
    assert.equal(await exists(), false, 'on-connect: still no partition for today');
    await client.query(`select set_config('supadispatch.realtime_partitions', 'always', true)`);
    await client.query(sql);
    assert.equal(await exists(), true, 'always: today is back');
  } finally {
    await client.query('rollback').catch(() => {});
    await client.end();
  }
});
