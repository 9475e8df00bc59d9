/**
 * postgres_changes values agree with to_jsonb, which hosted Realtime sends and PostgREST returns
 * (issue 22, item 10): a timestamptz as `2026-12-02T05:45:31.19+00:00`, not its text output
 * `2026-12-02 05:45:31.19+00`. The expected values come from PostgreSQL itself.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { type RawTuple, toRecord } from '../../src/realtime/changes/decoding.ts';
import { adminDbUrlOrNull, missingAdminDbMessage } from '../support/test-stack.ts';

const samples: [string, string][] = [
  ['timestamptz', '2026-12-02 05:45:31.19+00'],
  ['timestamptz', '2026-12-02 05:45:31+00'],
  ['timestamptz', '2026-12-02 05:45:31.123456+00'],
  ['timestamptz', 'infinity'],
  ['timestamp', '2026-12-02 05:45:31.5'],
  ['timestamp', '2026-12-02 00:00:00'],
];

test('timestamps in postgres_changes records read as to_jsonb writes them', async (t) => {
  const url = adminDbUrlOrNull();
  if (!url) return t.skip(missingAdminDbMessage);
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    for (const zone of ['UTC', 'Asia/Kolkata', 'America/St_Johns']) {
      await db.query(`set timezone = '${zone}'`);
      for (const [type, literal] of samples) {
        // the text the decoding session receives, and to_jsonb's value, in the same session
        const { rows } = await db.query<{ text: string; json: unknown }>(
          `select v::text as text, to_jsonb(v) as json from (select $1::${type} as v) s`,
          [literal],
        );
        const row = rows[0];
        if (!row) throw new Error('no row');
        const tuple: RawTuple = new Map([['at', row.text]]);
        const record = toRecord(tuple, new Map([['at', type]]));
        assert.deepEqual(record.at, row.json, `${type} ${row.text} (${zone})`);
      }
    }
  } finally {
    await db.end();
  }
});
