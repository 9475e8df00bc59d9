import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { plan } from '../src/generator/index.ts';
import { audienceSelect, membershipSql } from '../src/generator/sql/audience.ts';
import type { TransportName } from '../src/index.ts';
import { validateConfig } from '../src/index.ts';
import shop from './fixtures/shop.config.ts';
import { golden } from './support/golden.ts';
import { makeProject } from './support/project.ts';

const config = validateConfig(shop);
const aud = (name: string) => config.audiences.find((a) => a.name === name)!;
const FAKE_CORE = { version: '0.0.0-test', sql: '-- (core SQL)\n', hash: 'test-core-hash' };

describe('compiled audience SQL (one golden file per format)', () => {
  const cases: [string, string, TransportName][] = [
    ['1-column', 'buyer', 'in_app'],
    ['2-filter', 'admin', 'in_app'],
    ['3-chain', 'seller', 'in_app'],
    ['4-filter-from-row', 'regionalAdmin', 'email'],
    ['5-function', 'onDuty', 'in_app'],
    ['6-system-webhook', 'ops', 'webhook'],
    ['6-system-slack', 'ops', 'slack'],
    ['6-system-email', 'ops', 'email'],
  ];
  for (const [file, name, transport] of cases) {
    it(`${file}: ${name} via ${transport}`, () => {
      golden(`audience-${file}.sql`, `${audienceSelect(aud(name), transport)}\n`);
    });
  }
  it('membership of row-independent audiences (topics, admin)', () => {
    const lines = config.audiences.map(
      (a) => `${a.name}: ${membershipSql(a, 'p_user_id') ?? '(needs a row)'}`,
    );
    golden('audience-membership.txt', `${lines.join('\n')}\n`);
  });
});

describe('generated files of the shop config', async () => {
  const root = makeProject();
  const p = await plan(config, {
    root,
    configDir: root,
    core: FAKE_CORE,
    now: () => new Date('2026-11-25T12:00:00Z'),
  });
  it('migration', () => golden('shop.migration.sql', p.migration!.content));
  it('migration shape: capture triggers + one processor per table; only strict events keep own triggers', () => {
    const sql = p.migration!.content;
    const created = [...sql.matchAll(/^create trigger (\S+) after (\w+) on (\S+)$/gm)].map(
      (m) => `${m[1]} ${m[2]} ${m[3]}`,
    );
    assert.deepEqual(created, [
      'dispatch_ev_order_cancelled_update update public.orders', // strict: fires inside the write
      'dispatch_ev_order_cancelled_delete delete public.orders',
      'dispatch_capture_insert insert public.orders',
      'dispatch_capture_update update public.orders',
      'dispatch_capture_delete delete public.orders',
    ]);
    for (const m of sql.matchAll(/^create trigger dispatch_capture_\w+ .*\n.*\n(.*)$/gm)) {
      assert.equal(m[1], '  for each statement execute function dispatch.capture_changes();');
    }
    // one processor, registered; events in config order, then counters in config order
    assert.deepEqual(
      [...sql.matchAll(/^create or replace function (dispatch\.src_\w+)\((.*)\) returns (\w+)$/gm)].map(
        (m) => `${m[1]}(${m[2]}) ${m[3]}`,
      ),
      ['dispatch.src_public_orders_process(p_changes dispatch.changes[]) void'],
    );
    assert.match(
      sql,
      /^select dispatch\.register_source\('public\.orders', 'dispatch\.src_public_orders_process'\);$/m,
    );
    assert.match(
      sql,
      /^revoke all on function dispatch\.src_public_orders_process\(dispatch\.changes\[\]\) from public, anon, authenticated;$/m,
    );
    // the previous generator's processor (one change) is dropped before the batch one is created
    assert.ok(
      sql.indexOf('drop function if exists dispatch.src_public_orders_process(dispatch.changes);') <
        sql.indexOf('create or replace function dispatch.src_public_orders_process('),
    );
    const processor = sql.slice(sql.indexOf('create or replace function dispatch.src_public_orders_process'));
    assert.deepEqual(
      [...processor.matchAll(/^ {2}-- (event|counter) (\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`),
      [
        'event order.created',
        'event order.shipped',
        'counter admin_open_orders',
        'counter pending_orders',
        'counter seller_open_orders',
      ],
    );
    // a batch of changes: per event and operation, the rows of every change of that operation, each
    // record with its change's writer and capture time, in capture order; one fire per operation
    assert.equal(processor.match(/perform dispatch\.fire\(/g)?.length, 2);
    assert.match(
      processor,
      /perform dispatch\.fire\('order\.created', 'insert', 'public\.orders', v_records\);/,
    );
    assert.match(
      processor,
      /perform dispatch\.fire\('order\.shipped', 'update', 'public\.orders', v_records\);/,
    );
    assert.equal(
      processor.match(
        /jsonb_build_object\('new', to_jsonb\(x\.new\), 'old', to_jsonb\(x\.old\), 'actor', ch\.actor, 'at', ch\.captured_at\) order by ch\.id, x\.n\)/g,
      )?.length,
      2,
    );
    // UPDATE rows are paired only within their own change
    assert.match(
      processor,
      /from unnest\(p_changes\) as ch\n {2}cross join lateral \(\n {4}select new, old, row_number\(\) over \(\) as n\n {4}from json_populate_recordset\(null::public\.orders, ch\.new_rows\) as new join json_populate_recordset\(null::public\.orders, ch\.old_rows\) as old on old\.id = new\.id\n {4}where .*\n {2}\) as x\n {2}where ch\.operation = 'UPDATE';/,
    );
    // counters: one apply per counter per batch, every operation at once (+ new rows, - old rows)
    assert.equal(processor.match(/perform dispatch\.apply_counter_deltas\(/g)?.length, 3);
    for (const side of ['new_rows', 'old_rows'])
      assert.equal(
        processor.split(
          `(select r.* from unnest(p_changes) as ch cross join lateral json_populate_recordset(null::public.orders, ch.${side}) as r)`,
        ).length - 1,
        3,
      );
    assert.doesNotMatch(
      processor,
      /order\.cancelled|tg_op|new_rows as|old_rows as|p_change\b|if ch\.operation/,
    );
    // the triggers and functions of the earlier per-event / per-counter shape are dropped
    for (const name of [
      'ev_order_created',
      'ev_order_shipped',
      'ct_pending_orders',
      'ct_seller_open_orders',
      'ct_admin_open_orders',
    ]) {
      for (const op of ['insert', 'update', 'delete'])
        assert.match(
          sql,
          new RegExp(`^drop trigger if exists dispatch_${name}_${op} on public\\.orders;$`, 'm'),
        );
      assert.match(sql, new RegExp(`^drop function if exists dispatch\\.${name}_trg\\(\\);$`, 'm'));
    }
    assert.doesNotMatch(
      sql,
      /function dispatch\.(ev_order_created|ev_order_shipped|ct_\w+)_trg\(\) returns trigger/,
    );
  });
  it('client SDK', () => golden('shop.client.ts.txt', p.files[0].content));
  it('functions registry', () => golden('shop.registry.ts.txt', p.files[1].content));
  it('lock file', () => golden('shop.lock.json', p.files[2].content));
});
