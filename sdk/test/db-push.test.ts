/**
 * The workflow of issue 6 end to end, with the real Supabase CLI: `gen` from the test config (every
 * audience format) into a temp Supabase project, `supabase db push` as the non-superuser `postgres`
 * role, real INSERT / UPDATE / DELETE (bulk) → captured changes → `dispatch.drain()` after commit →
 * receipts and counters (a strict event fires inside the write); a rolled-back write leaves no change;
 * then the config changes (an event and a counter dropped, a counter and an event changed), `gen` writes
 * a second timestamped migration, `db push` applies it, the dropped triggers are gone; a third `gen`
 * writes nothing. A second suite upgrades an install of the previous generator (per-event /
 * per-counter triggers) and checks that nothing of it is left to fire twice.
 *
 * The push targets a fresh Supabase-like database (local/src/db/fresh-database.ts): the stack's
 * `postgres` database already holds the repo's migration history, which the CLI would refuse.
 * Needs SUPABASE_ADMIN_DB_URL (local stack superuser). Against a real Supabase, this test would need
 * its own project, so it skips there.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createBootstrappedDatabase, dropDatabase } from '../../local/src/db/fresh-database.ts';
import { pushMigrations } from '../../local/src/db/migrate.ts';
import { buildCore, coreVersion } from '../../sql/build.ts';
import { doctorCommand } from '../src/cli/doctor/index.ts';
import { checkCommand, genCommand } from '../src/cli/gen.ts';
import { UNBATCHED_MESSAGES } from './support/broadcasts.ts';
import { drainAll } from './support/drain.ts';
import { captureIo, makeProject, testDir } from './support/project.ts';

const adminUrl = process.env.SUPABASE_ADMIN_DB_URL;
const dbName = `sd_push_${process.pid}_${Date.now().toString(36)}`;
const U = (n: number | string) => `00000000-0000-0000-0000-${String(n).padStart(12, '0')}`;
const ALICE = U(1); // buyer, eu
const BOB = U(2); // buyer, us
const ADA = U('a'); // admin, eu, on duty
const BEA = U('b'); // admin, us, not on duty
const SAM = U('c'); // seller
const PRODUCT = U(101);

/** A fresh Supabase-like database `name` (the stack's postgres password) and a new project dir. */
async function openFreshProject(name: string): Promise<{ dbUrl: string; root: string; client: pg.Client }> {
  const postgresPassword = process.env.SUPABASE_DB_URL
    ? new URL(process.env.SUPABASE_DB_URL).password
    : undefined;
  const { dbUrl } = await createBootstrappedDatabase(adminUrl!, name, () => {}, { postgresPassword });
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  return { dbUrl, root: makeProject(), client };
}

async function closeFreshProject(name: string, client: pg.Client | undefined): Promise<void> {
  await client?.end().catch(() => {});
  if (adminUrl) await dropDatabase(adminUrl, name).catch(() => {});
}

describe('integration: gen → supabase db push → real writes → config change → push again', {
  skip:
    !adminUrl &&
    'SUPABASE_ADMIN_DB_URL is not set (the local stack superuser: each run pushes into its own fresh database)',
}, () => {
  let root = '';
  let dbUrl = '';
  let client: pg.Client;
  const pushLog: string[] = [];
  const log = (_service: string, message: string) => {
    pushLog.push(message);
  };
  const q = async (sql: string, params?: unknown[]) => (await client.query(sql, params as unknown[])).rows;
  const migrationsDir = () => path.join(root, 'supabase', 'migrations');
  const migrationFiles = () => readdirSync(migrationsDir()).sort();
  const push = async () => {
    pushLog.length = 0;
    try {
      await pushMigrations({ projectRoot: root, dbUrl, log, timeoutMs: 300_000 });
    } catch (e) {
      assert.fail(`${(e as Error).message}\n${pushLog.join('\n')}`);
    }
  };
  const history = async () =>
    (await q('select version from supabase_migrations.schema_migrations order by version')).map(
      (r) => r.version,
    );
  const triggers = async () =>
    (
      await q(
        `select tgname from pg_trigger where tgrelid = 'public.orders'::regclass and not tgisinternal
         and tgname like 'dispatch\\_%' order by 1`,
      )
    ).map((r) => r.tgname as string);
  const receipts = async (event: string) =>
    q(
      `select channel, status, coalesce(user_id::text, '') as user_id, coalesce(address, '') as address,
              next_attempt_at > now() + interval '50 seconds' as delayed
       from dispatch.receipts where event_id = $1 order by channel, user_id, address`,
      [event],
    );
  const count = (rows: Record<string, unknown>[], channel: string, where: Record<string, unknown> = {}) =>
    rows.filter((r) => r.channel === channel && Object.entries(where).every(([k, v]) => r[k] === v)).length;
  const counter = async (name: string, scope: string) =>
    Number((await q('select dispatch.counter_value($1, $2) as v', [name, scope]))[0].v);
  const changes = async () =>
    (
      await q(
        `select operation, coalesce(json_array_length(new_rows), 0) as new, coalesce(json_array_length(old_rows), 0) as old, error
         from dispatch.changes order by id`,
      )
    ).map((r) => `${r.operation} +${r.new} -${r.old}${r.error ? ` ${r.error}` : ''}`);
  const drain = () => drainAll(q);

  before(async () => {
    ({ dbUrl, root, client } = await openFreshProject(dbName));
  });
  after(() => closeFreshProject(dbName, client));

  it('the app migration is pushed first (the project has its tables before it adopts supadispatch)', async () => {
    writeFileSync(
      path.join(migrationsDir(), '20200101000000_app.sql'),
      readFileSync(path.join(testDir, 'fixtures', 'shop-schema.sql'), 'utf8'),
    );
    await push();
    assert.deepEqual(await history(), ['20200101000000']);
  });

  it('gen (columns checked against the database) writes the core + config migration; db push applies it as postgres', async () => {
    const io = captureIo(root, '2026-11-25T12:00:00Z');
    assert.equal(await genCommand(['--db-url', dbUrl], io), 0, io.stderr);
    assert.match(io.stdout, /next: supabase db push/);
    assert.deepEqual(migrationFiles(), ['20200101000000_app.sql', '20261125120000_supadispatch.sql']);
    await push();
    assert.ok(
      pushLog.some((l) => l.includes('20261125120000_supadispatch.sql')),
      `the CLI applied the migration:\n${pushLog.join('\n')}`,
    );
    assert.deepEqual(await history(), ['20200101000000', '20261125120000']);
    const [v] = await q(
      `select dispatch.version() as v, pg_get_userbyid(p.proowner) as owner
       from pg_proc p where p.oid = 'dispatch.ev_order_created_expand(dispatch.occurrences[])'::regprocedure`,
    );
    assert.deepEqual(v, { v: coreVersion(), owner: 'postgres' });
    // the generated functions come after the core's revoke block in the same migration: none of them
    // (nor anything else in dispatch but the realtime policy helper) is executable by clients
    const callable = await q(
      `select p.oid::regprocedure::text as sig from pg_proc p join pg_namespace n on n.oid = p.pronamespace
       where n.nspname = 'dispatch'
         and (has_function_privilege('authenticated', p.oid, 'EXECUTE') or has_function_privilege('anon', p.oid, 'EXECUTE'))
       order by 1`,
    );
    assert.deepEqual(
      callable.map((r) => r.sig),
      ['dispatch.can_read_topic(text)'],
    );
    // the table's capture triggers, and the strict event's own ones
    assert.deepEqual(await triggers(), [
      'dispatch_capture_delete',
      'dispatch_capture_insert',
      'dispatch_capture_update',
      'dispatch_ev_order_cancelled_delete',
      'dispatch_ev_order_cancelled_update',
    ]);
    assert.deepEqual(await q('select source_table, processor from dispatch.sources'), [
      { source_table: 'public.orders', processor: 'dispatch.src_public_orders_process' },
    ]);
    // the app's users: auth.users holds the addresses (users.email default), profiles the flags
    const people: [string, boolean, string | null, boolean, string][] = [
      [ALICE, false, 'eu', false, 'alice@shop.example'],
      [BOB, false, 'us', false, 'bob@shop.example'],
      [ADA, true, 'eu', true, 'ada@shop.example'],
      [BEA, true, 'us', false, 'bea@shop.example'],
      [SAM, false, null, false, 'sam@shop.example'],
    ];
    for (const [id, isAdmin, region, onDuty, email] of people) {
      await q('insert into auth.users (id, email) values ($1, $2)', [id, email]);
      await q('insert into public.profiles (id, is_admin, region, on_duty) values ($1, $2, $3, $4)', [
        id,
        isAdmin,
        region,
        onDuty,
      ]);
    }
    await q('insert into public.products (id, seller_id) values ($1, $2)', [PRODUCT, SAM]);
  });

  it('bulk INSERT: receipts for every audience format; counters per user, per chain and per audience', async () => {
    await q(
      `insert into public.orders (user_id, product_id, region, total)
       select $1::uuid, $2::uuid, 'eu', g from generate_series(1, 50) g
       union all select $3::uuid, null, 'us', 100 + g from generate_series(1, 10) g`,
      [ALICE, PRODUCT, BOB],
    );
    // committed: captured as one change, nothing processed yet
    assert.deepEqual(await changes(), ['INSERT +60 -0']);
    assert.deepEqual(await receipts('order.created'), []);
    assert.equal(await counter('pending_orders', ALICE), 0);
    await drain();
    assert.deepEqual(await changes(), []);
    const r = await receipts('order.created');
    assert.equal(count(r, 'in_app:buyer', { user_id: ALICE, status: 'sent' }), 50); // 1. column
    assert.equal(count(r, 'in_app:buyer', { user_id: BOB, status: 'sent' }), 10);
    assert.equal(count(r, 'in_app:seller', { user_id: SAM, status: 'sent' }), 50); // 3. chain (bob's have no product)
    assert.equal(count(r, 'in_app:seller'), 50);
    // 4. filter with a value from the row: the admin of the order's region, address from auth.users
    assert.equal(
      count(r, 'email:regionalAdmin', {
        user_id: ADA,
        address: 'ada@shop.example',
        status: 'pending',
        delayed: true,
      }),
      50,
    );
    assert.equal(count(r, 'email:regionalAdmin', { user_id: BEA, address: 'bea@shop.example' }), 10);
    // 6. static recipients: the webhook one for the webhook channel
    assert.equal(
      count(r, 'webhook:ops', {
        user_id: '',
        address: 'https://hooks.example.test/orders',
        status: 'pending',
      }),
      60,
    );
    assert.equal(r.length, 60 + 50 + 60 + 60);
    const [n] = await q(
      `select count(*)::int as n, min(title) as title from dispatch.notifications where user_id = $1 and event_id = 'order.created'`,
      [ALICE],
    );
    assert.deepEqual(n, { n: 50, title: 'Order created' });
    assert.equal(await counter('unread_notifications', ALICE), 50);
    assert.equal(await counter('pending_orders', ALICE), 50);
    assert.equal(await counter('pending_orders', BOB), 10);
    assert.equal(await counter('seller_open_orders', SAM), 50);
    assert.equal(await counter('admin_open_orders', 'admin'), 60); // sharded, published at commit
  });

  it('bulk UPDATE: the changed-to condition, a function audience, a raw SQL condition; counters both ways', async () => {
    await q(`update public.orders set status = 'shipped' where user_id = $1 and total <= 10`, [ALICE]);
    await q(`update public.orders set status = 'shipped' where user_id = $1 and total <= 10`, [ALICE]); // no change
    await q(`update public.orders set status = 'paid' where user_id = $1 and total between 11 and 20`, [
      ALICE,
    ]);
    await q(`update public.orders set status = 'shipped' where user_id = $1`, [BOB]);
    assert.deepEqual(await changes(), [
      'UPDATE +10 -10',
      'UPDATE +10 -10',
      'UPDATE +10 -10',
      'UPDATE +10 -10',
    ]);
    assert.deepEqual(await receipts('order.shipped'), []);
    await drain();
    assert.deepEqual(await changes(), []);
    const s = await receipts('order.shipped');
    assert.equal(count(s, 'in_app:buyer', { user_id: ALICE }), 10);
    assert.equal(count(s, 'in_app:buyer', { user_id: BOB }), 10);
    assert.equal(count(s, 'email:buyer', { status: 'pending', delayed: true }), 20); // delay 60 s
    // 5. function audience on_duty_admins(region): eu → ada; the us admin is off duty
    assert.equal(count(s, 'in_app:onDuty', { user_id: ADA }), 10);
    assert.equal(s.length, 50);
    assert.deepEqual(await receipts('order.cancelled'), []);
    await q(`update public.orders set status = 'cancelled' where user_id = $1 and total between 21 and 25`, [
      ALICE,
    ]);
    // order.cancelled is strict: it fired inside the write; the counters wait for the drain
    const c = await receipts('order.cancelled');
    assert.deepEqual(await changes(), ['UPDATE +5 -5']);
    await drain();
    // 2. filter over the users table: both admins; slack to the static recipient's secret
    assert.equal(count(c, 'in_app:admin', { user_id: ADA }), 5);
    assert.equal(count(c, 'in_app:admin', { user_id: BEA }), 5);
    assert.equal(count(c, 'slack:ops', { address: 'secret:SLACK_OPS_WEBHOOK_URL' }), 5);
    assert.equal(await counter('pending_orders', ALICE), 25);
    assert.equal(await counter('pending_orders', BOB), 0);
    assert.equal(await counter('seller_open_orders', SAM), 35); // 25 pending + 10 paid
    assert.equal(await counter('admin_open_orders', 'admin'), 40); // 60 - 20 shipped
  });

  it('bulk DELETE: the delete trigger fires; counters go down; reconcile agrees; nothing failed', async () => {
    await q(`delete from public.orders where user_id = $1 and total > 40`, [ALICE]);
    assert.deepEqual(await changes(), ['DELETE +0 -10']);
    assert.equal(await counter('pending_orders', ALICE), 25); // not yet
    await drain();
    assert.deepEqual(await changes(), []);
    const c = await receipts('order.cancelled');
    // `new.status is null` holds for every deleted row (no new row)
    assert.equal(count(c, 'in_app:admin'), 10 + 20);
    assert.equal(count(c, 'slack:ops'), 5 + 10);
    assert.equal(await counter('pending_orders', ALICE), 15);
    assert.equal(await counter('seller_open_orders', SAM), 25);
    assert.equal(await counter('admin_open_orders', 'admin'), 30);
    assert.deepEqual(
      await q(
        `select name, scope, expected, actual from dispatch.reconcile_counters(null, false) where expected <> actual`,
      ),
      [],
    );
    assert.deepEqual(await q(`select event_id, error from dispatch.occurrences where status = 'failed'`), []);
  });

  it('a rolled-back write leaves no change, no receipt and no counter move', async () => {
    const before = {
      receipts: (await receipts('order.created')).length,
      pending: await counter('pending_orders', BOB),
    };
    await q('begin');
    try {
      await q(`insert into public.orders (user_id, region) values ($1, 'us'), ($1, 'us')`, [BOB]);
      assert.deepEqual(await changes(), ['INSERT +2 -0'], 'captured inside the transaction');
    } finally {
      await q('rollback');
    }
    assert.deepEqual(await changes(), []);
    await drain();
    assert.deepEqual(
      { receipts: (await receipts('order.created')).length, pending: await counter('pending_orders', BOB) },
      before,
    );
  });

  it('config change: a second timestamped migration drops the removed event and counter and changes the others', async () => {
    const cfgFile = path.join(root, 'dispatch.config.ts');
    let text = readFileSync(cfgFile, 'utf8');
    text = text.replace(/ {4}'order\.cancelled': \{[\s\S]*?\n {4}\},\n/, ''); // drop an event
    text = text.replace(/ {4}seller_open_orders: \{[\s\S]*?\n {4}\},\n/, ''); // drop a counter
    text = text.replace("where: { status: 'pending' },", "where: { status: ['pending', 'paid'] },"); // change one
    text = text.replace("title: 'Shipped',", "title: 'Shipped!',");
    assert.doesNotMatch(text, /order\.cancelled|seller_open_orders/);
    assert.match(text, /title: 'Shipped!'/);
    assert.match(text, /where: \{ status: \['pending', 'paid'\] \}/);
    writeFileSync(cfgFile, text);
    const io = captureIo(root, '2026-11-25T13:00:00Z');
    assert.equal(await genCommand(['--db-url', dbUrl], io), 0, io.stderr);
    assert.deepEqual(migrationFiles(), [
      '20200101000000_app.sql',
      '20261125120000_supadispatch.sql',
      '20261125130000_supadispatch.sql',
    ]);
    const sql = readFileSync(path.join(migrationsDir(), '20261125130000_supadispatch.sql'), 'utf8');
    assert.doesNotMatch(sql, /==== supadispatch core/);
    await push();
    assert.deepEqual(await history(), ['20200101000000', '20261125120000', '20261125130000']);
    // the strict event's triggers are gone; the capture triggers stay (the table still has events/counters)
    assert.deepEqual(await triggers(), [
      'dispatch_capture_delete',
      'dispatch_capture_insert',
      'dispatch_capture_update',
    ]);
    const [{ src }] = await q(
      `select prosrc as src from pg_proc where proname = 'src_public_orders_process'`,
    );
    assert.doesNotMatch(src, /seller_open_orders/);
    assert.match(src, /pending_orders/);
    assert.deepEqual(await q(`select id from dispatch.events where id = 'order.cancelled'`), []);
    assert.deepEqual(await q(`select name from dispatch.counters_def where name = 'seller_open_orders'`), []);
    assert.deepEqual(
      await q(
        `select proname from pg_proc where proname in ('ev_order_cancelled_trg', 'ct_seller_open_orders_trg')`,
      ),
      [],
    );
    // the changed counter was recounted by the migration: 15 pending + 10 paid
    assert.equal(await counter('pending_orders', ALICE), 25);
  });

  it('after the second push, writes follow the new config', async () => {
    const cancelledBefore = (await receipts('order.cancelled')).length;
    await q(`delete from public.orders where status = 'cancelled'`);
    await drain();
    assert.equal(
      (await receipts('order.cancelled')).length,
      cancelledBefore,
      'the dropped event no longer fires',
    );
    await q(`update public.orders set status = 'shipped' where user_id = $1 and status = 'paid'`, [ALICE]);
    await drain();
    const titles = await q(
      `select title, count(*)::int as n from dispatch.notifications where event_id = 'order.shipped' and user_id = $1
       group by title order by title`,
      [ALICE],
    );
    assert.deepEqual(titles, [
      { title: 'Shipped', n: 10 },
      { title: 'Shipped!', n: 10 },
    ]);
    assert.equal(await counter('pending_orders', ALICE), 15);
    await q(`insert into public.orders (user_id, product_id, region, status) values ($1, $2, 'eu', 'paid')`, [
      ALICE,
      PRODUCT,
    ]);
    await drain();
    assert.equal(await counter('pending_orders', ALICE), 16); // paid counts now
    assert.equal(await counter('admin_open_orders', 'admin'), 16);
    assert.deepEqual(
      await q(
        `select name, scope, expected, actual from dispatch.reconcile_counters(null, false) where expected <> actual`,
      ),
      [],
    );
  });

  it('one drain processes a batch: mixed statements of two signed-in writers, each occurrence with its own writer, one counter broadcast per scope', async () => {
    // five statements in five transactions, by two signed-in users, then ONE drain: they reach the
    // processor as one batch (one table, 10 rows), so each counter scope moves once
    const counters = ['pending_orders', 'admin_open_orders'];
    const broadcasts = async () =>
      (
        await q(
          `select topic, payload ->> 'name' as name, count(*)::int as n,
                  (array_agg((payload ->> 'value')::bigint order by (payload ->> 'seq')::bigint desc))[1] as last
           from ${UNBATCHED_MESSAGES} m where event = 'counter' and payload ->> 'name' = any($1)
           group by 1, 2 order by 1, 2`,
          [counters],
        )
      ).map((r) => ({ key: `${r.topic} ${r.name}`, n: Number(r.n), last: Number(r.last) }));
    const before = {
      broadcasts: new Map((await broadcasts()).map((b) => [b.key, b.n])),
      alice: await counter('pending_orders', ALICE),
      bob: await counter('pending_orders', BOB),
      admin: await counter('admin_open_orders', 'admin'),
    };
    const at: Record<number, string> = {}; // statement → its transaction's time (the capture time)
    const write = async (n: number, actor: string, sql: string, params: unknown[]) => {
      await q('begin');
      try {
        await q(`select set_config('request.jwt.claims', $1, true)`, [
          JSON.stringify({ sub: actor, role: 'authenticated' }),
        ]);
        at[n] = (await q(`select now()::text as t`))[0].t as string;
        await q(sql, params);
        await q('commit');
      } catch (e) {
        await q('rollback');
        throw e;
      }
    };
    await write(
      1,
      ALICE,
      `insert into public.orders (user_id, product_id, region, total) select $1::uuid, $2::uuid, 'eu', g from generate_series(201, 203) g`,
      [ALICE, PRODUCT],
    );
    await write(
      2,
      BOB,
      `insert into public.orders (user_id, region, total) values ($1, 'us', 301), ($1, 'us', 302), ($1, 'us', 303)`,
      [BOB],
    );
    await write(3, BOB, `update public.orders set status = 'shipped' where total = 201`, []);
    await write(4, ALICE, `delete from public.orders where total = 302`, []);
    await write(5, ALICE, `update public.orders set status = 'shipped' where total in (202, 301)`, []);
    assert.deepEqual(await changes(), [
      'INSERT +3 -0',
      'INSERT +3 -0',
      'UPDATE +1 -1',
      'DELETE +0 -1',
      'UPDATE +2 -2',
    ]);
    const [{ n }] = await q('select dispatch.drain(5000) as n');
    assert.equal(n, 5);
    assert.deepEqual(await changes(), []);
    // occurrences: each with the writer and the capture time of its own statement
    const occ = await q(
      `select o.event_id, o.operation, (o.new_record ->> 'total')::int as total, o.actor::text as actor,
              o.created_at::text as at,
              (select count(*)::int from dispatch.receipts r where r.occurrence_id = o.id and r.channel = 'in_app:buyer'
                 and r.user_id = (o.new_record ->> 'user_id')::uuid) as buyer
       from dispatch.occurrences o
       where o.source_table = 'public.orders' and (o.new_record ->> 'total')::int between 201 and 303
       order by o.event_id, total`,
    );
    const row = (event: string, op: string, total: number, actor: string, stmt: number) => ({
      event_id: event,
      operation: op,
      total,
      actor,
      at: at[stmt],
      buyer: 1,
    });
    assert.deepEqual(occ, [
      row('order.created', 'INSERT', 201, ALICE, 1),
      row('order.created', 'INSERT', 202, ALICE, 1),
      row('order.created', 'INSERT', 203, ALICE, 1),
      row('order.created', 'INSERT', 301, BOB, 2),
      row('order.created', 'INSERT', 302, BOB, 2),
      row('order.created', 'INSERT', 303, BOB, 2),
      row('order.shipped', 'UPDATE', 201, BOB, 3),
      row('order.shipped', 'UPDATE', 202, ALICE, 5),
      row('order.shipped', 'UPDATE', 301, ALICE, 5),
    ]);
    // counters: the net of the batch (alice +3 -1 -1, bob +3 -1 -1, admin +6 -1 -1 -2), equal to reconcile
    assert.equal(await counter('pending_orders', ALICE), before.alice + 1);
    assert.equal(await counter('pending_orders', BOB), before.bob + 1);
    assert.equal(await counter('admin_open_orders', 'admin'), before.admin + 2);
    assert.deepEqual(
      await q(
        `select name, scope, expected, actual from dispatch.reconcile_counters(null, false) where expected <> actual`,
      ),
      [],
    );
    // exactly one broadcast per scope from this drain, carrying the final value
    const after = (await broadcasts()).map((b) => ({
      key: b.key,
      n: b.n - (before.broadcasts.get(b.key) ?? 0),
      last: b.last,
    }));
    assert.deepEqual(
      after.filter((b) => b.n !== 0),
      [
        { key: 'dispatch:audience:admin admin_open_orders', n: 1, last: before.admin + 2 },
        { key: `dispatch:user:${ALICE} pending_orders`, n: 1, last: before.alice + 1 },
        { key: `dispatch:user:${BOB} pending_orders`, n: 1, last: before.bob + 1 },
      ],
    );
  });

  it('a third gen writes nothing and check passes', async () => {
    const snapshot = () =>
      migrationFiles().map((f) => [f, readFileSync(path.join(migrationsDir(), f), 'utf8')] as const);
    const lock = () => readFileSync(path.join(root, 'supabase', 'dispatch.lock.json'), 'utf8');
    const before = { files: snapshot(), lock: lock() };
    const io = captureIo(root, '2026-11-25T14:00:00Z');
    assert.equal(await genCommand([], io), 0, io.stderr);
    assert.match(io.stdout, /everything is up to date/);
    assert.deepEqual({ files: snapshot(), lock: lock() }, before);
    const check = captureIo(root, '2026-11-25T14:00:00Z');
    assert.equal(await checkCommand([], check), 0, check.stderr);
  });

  it('doctor on the pushed database: core and triggers match the config', async () => {
    const io = captureIo(root);
    await doctorCommand(['--db-url', dbUrl], io);
    assert.match(io.stdout, new RegExp(`✓ core version ${coreVersion().replaceAll('.', '\\.')}`));
    assert.match(io.stdout, /✓ triggers match the config\n/);
    assert.match(io.stdout, /✓ change processors registered for the source tables — 1 source table\n/);
    assert.match(io.stdout, /✓ no captured changes waiting/);
    assert.match(io.stdout, /✓ no captured changes stuck with an error/);
    assert.match(io.stdout, /✓ audience filters read no column users can write — 1 column checked\n/);
    assert.match(io.stdout, /✓ counters match reconcile/);
  });

  it('a change whose processing fails stays with its error; doctor names it and dispatch.replay_change', async () => {
    // a captured statement the processor cannot read (as if the table changed under it)
    await q(
      `insert into dispatch.changes (source_table, operation, new_rows) values ('public.orders', 'INSERT', '[{"id": "not-a-uuid"}]')`,
    );
    await drain();
    const [c] = await q('select id, error from dispatch.changes');
    assert.match(String(c.error), /^22P02: .*not-a-uuid/);
    const io = captureIo(root);
    assert.equal(await doctorCommand(['--db-url', dbUrl], io), 1);
    assert.match(
      io.stdout,
      new RegExp(
        `✗ no captured changes stuck with an error — 1 change failed processing .*, first #${c.id}\\n {4}fix: inspect: select id, source_table, operation, attempts, error from dispatch\\.changes where error is not null order by id; .*select dispatch\\.replay_change\\(id\\);\\n`,
      ),
    );
    await assert.rejects(q('select dispatch.replay_change($1)', [c.id]), /not-a-uuid/);
    await q('delete from dispatch.changes where id = $1', [c.id]);
  });

  it('doctor reads the worker URL and secret from Vault as postgres and probes the worker', async () => {
    const seen: { secret: unknown; body: string }[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        seen.push({ secret: req.headers['x-dispatch-secret'], body });
        res.writeHead(req.url === '/functions/v1/dispatch-worker' ? 200 : 404).end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      await q(`select vault.create_secret($1, 'dispatch_worker_url')`, [
        `${base}/functions/v1/dispatch-worker`,
      ]);
      await q(`select vault.create_secret('push-test-secret', 'dispatch_worker_secret')`);
      let io = captureIo(root);
      await doctorCommand(['--db-url', dbUrl], io);
      assert.match(io.stdout, /✓ Vault secret dispatch_worker_url\n✓ Vault secret dispatch_worker_secret\n/);
      assert.match(
        io.stdout,
        new RegExp(`✓ dispatch-worker answers — HTTP 200 from ${base}/functions/v1/dispatch-worker\n`),
      );
      assert.deepEqual(seen, [{ secret: 'push-test-secret', body: '{"probe":true}' }]);
      // the function is not deployed at the stored URL: a failure with the deploy command
      await q(
        `select vault.update_secret((select id from vault.secrets where name = 'dispatch_worker_url'), $1)`,
        [`${base}/functions/v1/dispatch-wrker`],
      );
      io = captureIo(root);
      assert.equal(await doctorCommand(['--db-url', dbUrl], io), 1);
      assert.match(
        io.stdout,
        /✗ dispatch-worker answers — HTTP 404 from .* — no function there\n {4}fix: deploy the worker: `supabase functions deploy dispatch-worker --no-verify-jwt`/,
      );
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('integration: upgrading an install of per-event / per-counter triggers to capture + processor', {
  skip:
    !adminUrl &&
    'SUPABASE_ADMIN_DB_URL is not set (the local stack superuser: each run pushes into its own fresh database)',
}, () => {
  const name = `${dbName}_up`;
  let root = '';
  let dbUrl = '';
  let client: pg.Client;
  const pushLog: string[] = [];
  const q = async (sql: string, params?: unknown[]) => (await client.query(sql, params as unknown[])).rows;
  const push = async () => {
    pushLog.length = 0;
    try {
      await pushMigrations({
        projectRoot: root,
        dbUrl,
        log: (_s: string, m: string) => pushLog.push(m),
        timeoutMs: 300_000,
      });
    } catch (e) {
      assert.fail(`${(e as Error).message}\n${pushLog.join('\n')}`);
    }
  };
  const dir = () => path.join(root, 'supabase', 'migrations');
  const created = async () =>
    Number(
      (
        await q(
          `select count(*)::int as n from dispatch.receipts where event_id = 'order.created' and channel = 'in_app:buyer'`,
        )
      )[0].n,
    );

  before(async () => {
    ({ dbUrl, root, client } = await openFreshProject(name));
  });
  after(() => closeFreshProject(name, client));

  it("the previous generator's migration (dispatch_ev_* / dispatch_ct_* triggers) is installed and fires inside the write", async () => {
    // fixtures/old-shape: what the previous generator wrote for the shop config (its core stood in
    // by a placeholder: today's core here, which still accepts the old dispatch.fire calls)
    const old = path.join(testDir, 'fixtures', 'old-shape');
    const core = buildCore();
    writeFileSync(
      path.join(dir(), '20200101000000_app.sql'),
      readFileSync(path.join(testDir, 'fixtures', 'shop-schema.sql'), 'utf8'),
    );
    writeFileSync(
      path.join(dir(), '20261125120000_supadispatch.sql'),
      readFileSync(path.join(old, '20261125120000_supadispatch.sql'), 'utf8').replace(
        '-- (core SQL)\n',
        () => `${core}\n`, // a function: `$$` in the core is not a replacement pattern
      ),
    );
    const lock = JSON.parse(readFileSync(path.join(old, 'dispatch.lock.json'), 'utf8'));
    lock.core = {
      version: coreVersion(),
      hash: createHash('sha256').update(core).digest('hex'),
      migration: '20261125120000_supadispatch.sql',
    };
    writeFileSync(path.join(root, 'supabase', 'dispatch.lock.json'), `${JSON.stringify(lock, null, 2)}\n`);
    await push();
    const trg = await q(
      `select tgname from pg_trigger where tgrelid = 'public.orders'::regclass and not tgisinternal order by 1`,
    );
    assert.equal(trg.filter((r) => /^dispatch_(ev|ct)_/.test(String(r.tgname))).length, 13);
    await q(`insert into public.profiles (id) values ($1)`, [ALICE]);
    await q(`insert into public.orders (user_id, region) values ($1, 'eu'), ($1, 'eu')`, [ALICE]);
    assert.equal(await created(), 2, 'the old trigger fired inside the write');
    assert.equal(
      Number((await q(`select dispatch.counter_value('pending_orders', $1) as v`, [ALICE]))[0].v),
      2,
    );
  });

  it("gen + push: only capture triggers and the strict event's own are left; each write fires once, after the drain", async () => {
    const io = captureIo(root, '2026-11-25T13:00:00Z');
    assert.equal(await genCommand(['--db-url', dbUrl], io), 0, io.stderr);
    const sql = readFileSync(path.join(dir(), '20261125130000_supadispatch.sql'), 'utf8');
    assert.doesNotMatch(sql, /==== supadispatch core/);
    await push();
    const trg = (
      await q(
        `select tgname from pg_trigger t join pg_class c on c.oid = t.tgrelid
         where c.relnamespace = 'public'::regnamespace and not tgisinternal and tgname like 'dispatch%' order by 1`,
      )
    ).map((r) => r.tgname);
    assert.deepEqual(trg, [
      'dispatch_capture_delete',
      'dispatch_capture_insert',
      'dispatch_capture_update',
      'dispatch_ev_order_cancelled_delete',
      'dispatch_ev_order_cancelled_update',
    ]);
    const fns = (
      await q(
        `select proname from pg_proc where pronamespace = 'dispatch'::regnamespace and proname ~ '^(ev|ct)_.*_trg$' order by 1`,
      )
    ).map((r) => r.proname);
    assert.deepEqual(fns, ['ev_order_cancelled_trg']);
    // the counters were recounted by the migration (nothing lost, nothing twice)
    assert.equal(
      Number((await q(`select dispatch.counter_value('pending_orders', $1) as v`, [ALICE]))[0].v),
      2,
    );
    await q(`insert into public.orders (user_id, region) values ($1, 'eu'), ($1, 'eu'), ($1, 'eu')`, [ALICE]);
    assert.equal(await created(), 2, 'nothing fires inside the write any more');
    await drainAll(q);
    assert.equal(await created(), 5, 'each new order once');
    assert.equal(
      Number((await q(`select dispatch.counter_value('pending_orders', $1) as v`, [ALICE]))[0].v),
      5,
    );
    assert.deepEqual(
      await q(
        `select name, scope, expected, actual from dispatch.reconcile_counters(null, false) where expected <> actual`,
      ),
      [],
    );
    const io2 = captureIo(root);
    await doctorCommand(['--db-url', dbUrl], io2);
    assert.match(io2.stdout, /✓ triggers match the config\n/);
  });
});
