/**
 * ensureRealtimePartitions keeps yesterday..today+3 and drops partitions older than today-3.
 * Runs inside a transaction that is rolled back, pretending "now" is ten days ahead.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { ensureRealtimePartitions, partitionName } from '../../src/db/partitions.ts';

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
