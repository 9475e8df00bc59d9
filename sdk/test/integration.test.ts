/**
 * Generate from a config using every audience format into a temp project, apply the core and the
 * generated migration as the `postgres` role (psql), then check the receipts and counters that real
 * INSERT / UPDATE / DELETE statements (including bulk ones) produce once their captured changes are
 * processed after commit (`dispatch.drain()`). Needs SUPABASE_DB_URL.
 * Everything lives in a fresh schema; the audience hooks the migration redefines are restored.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { genCommand } from '../src/cli/gen.ts';
import { drainAll } from './support/drain.ts';
import { captureIo, makeProject, testDir } from './support/project.ts';

const dbUrl = process.env.SUPABASE_DB_URL;
const S = `sdgen_${process.pid}_${Date.now().toString(36)}`;
const U = (n: number | string) => `00000000-0000-0000-0000-${String(n).padStart(12, '0')}`;

function configText(): string {
  return `import { defineDispatch, sql } from 'supadispatch';
export default defineDispatch({
  users: { table: '${S}.profiles', id: 'id', email: '${S}.profiles.email' },
  transports: { in_app: {}, email: { from: 'Shop <noreply@shop.example>' }, webhook: {}, slack: {} },
  audiences: {
    buyer: { column: 'user_id' },
    // not named "admin": the core default "admin" topic (dispatch.is_admin) stays as it is for
    // suites running at the same time on the same database
    staff: { where: { is_admin: true } },
    seller: { chain: ['product_id', '${S}.products.seller_id'] },
    regionalAdmin: { where: { is_admin: true, region: { fromRow: 'region' } } },
    onDuty: { function: '${S}.on_duty_admins', args: ['region'] },
    ops: { system: [{ email: 'ops@shop.example' }, { webhook: 'https://hooks.example.test/orders' }, { slack: { urlSecret: 'SLACK_OPS' } }] },
  },
  admin: 'staff',
  events: {
    '${S}.order.created': {
      table: '${S}.orders', on: 'insert',
      channels: [
        { transport: 'in_app', audience: 'buyer' },
        { transport: 'in_app', audience: 'seller' },
        { transport: 'email', audience: 'regionalAdmin', delay: '5m' },
        { transport: 'webhook', audience: 'ops' },
      ],
      content: { subject: 'Order {{number}}', title: 'Order created', message: 'Order #{{number}} ({{total}})', text: 'x' },
    },
    '${S}.order.shipped': {
      table: '${S}.orders', on: 'update', when: { changed: 'status', to: 'shipped' },
      channels: [{ transport: 'in_app', audience: 'buyer' }, { transport: 'in_app', audience: 'onDuty' }],
      content: { title: 'Shipped', message: 'Order #{{number}} shipped (was {{old.status}})' },
    },
    '${S}.welcome': {
      channels: [{ transport: 'in_app', audience: 'staff' }, { transport: 'email', audience: 'ops' }],
      content: { subject: 'Hi', title: 'Hi {{name}}', message: 'Welcome {{name}}', text: 'Welcome' },
    },
    '${S}.order.removed': {
      table: '${S}.orders', on: 'delete', when: sql\`old.total >= 100\`,
      channels: [{ transport: 'in_app', audience: 'staff' }, { transport: 'slack', audience: 'ops' }],
      content: { title: 'Big order removed', message: '#{{number}}', payload: { text: 'removed {{number}}' } },
    },
  },
  counters: {
    ${S}_pending: { table: '${S}.orders', where: { status: 'pending' }, scope: { user: 'user_id' }, invalidates: [['orders']] },
    ${S}_seller_open: { table: '${S}.orders', where: { status: ['pending', 'paid'] }, scope: { user: ['product_id', '${S}.products.seller_id'] } },
    ${S}_admin_open: { table: '${S}.orders', where: { status: { neq: 'shipped' } }, scope: { audience: 'staff' }, sharded: 4 },
    // every row counts, into one scope, and no event reads the table: captured as counts only
    ${S}_products: { table: '${S}.products', scope: { audience: 'staff' }, sharded: 2 },
  },
});
`;
}

const schemaSql = () =>
  readFileSync(path.join(testDir, 'fixtures', 'shop-schema.sql'), 'utf8')
    .replaceAll('public.', `${S}.`)
    .replace(
      'on_duty boolean not null default false',
      'on_duty boolean not null default false,\n  email text',
    );

describe('integration: generated triggers on a real database', {
  skip: !dbUrl && 'SUPABASE_DB_URL is not set (npm test sets it from the local stack)',
}, () => {
  const client = new pg.Client({ connectionString: dbUrl });
  const saved: string[] = [];
  const q = async (sql: string, params?: unknown[]) => (await client.query(sql, params as unknown[])).rows;

  before(async () => {
    await client.connect();
    for (const fn of [
      'dispatch.is_audience_member(uuid,text)',
      'dispatch.user_audiences(uuid)',
      'dispatch.is_admin(uuid)',
    ]) {
      const r = await q('select pg_get_functiondef(to_regprocedure($1)) as def', [fn]);
      if (r[0]?.def) saved.push(r[0].def as string);
    }
    const root = makeProject(configText());
    writeFileSync(
      path.join(root, 'supabase', 'migrations', '20200101000000_app.sql'),
      `create schema ${S};\n${schemaSql()}`,
    );
    // When this core version is installed already (the test stack), do not re-install it while other
    // suites use it: a migration holding the core verbatim makes gen leave it out.
    const { buildCore, coreVersion } = await import('../../sql/build.ts');
    const [{ has }] = await q(`select to_regprocedure('dispatch.version()') is not null as has`);
    const v = has ? (await q('select dispatch.version() as v'))[0].v : null;
    const coreFile = '20200101000001_supadispatch_core.sql';
    if (v === coreVersion()) writeFileSync(path.join(root, 'supabase', 'migrations', coreFile), buildCore());
    const io = captureIo(root);
    assert.equal(await genCommand([], io), 0, io.stderr);
    for (const f of readdirSync(path.join(root, 'supabase', 'migrations')).sort()) {
      if (f === coreFile) continue;
      execFileSync(
        'psql',
        [
          '-X',
          '-q',
          '-v',
          'ON_ERROR_STOP=1',
          '-1',
          '-f',
          path.join(root, 'supabase', 'migrations', f),
          dbUrl!,
        ],
        {
          encoding: 'utf8',
          stdio: ['ignore', 'ignore', 'pipe'],
          timeout: 120_000,
        },
      );
    }
    await q(
      `insert into ${S}.profiles (id, is_admin, region, on_duty, email) values
        ($1, false, 'eu', false, 'alice@shop.example'), ($2, false, 'us', false, 'bob@shop.example'),
        ($3, true, 'eu', true, 'ada@shop.example'), ($4, true, 'us', false, 'bea@shop.example'), ($5, false, null, false, 'sam@shop.example')`,
      [U(1), U(2), U('a'), U('b'), U('c')],
    );
    await q(`insert into ${S}.products (id, seller_id) values ($1, $2)`, [U(101), U('c')]);
  });

  after(async () => {
    await q(`drop schema if exists ${S} cascade`).catch(() => {});
    await q(`delete from dispatch.events where id like $1`, [`${S}.%`]).catch(() => {});
    await q(`delete from dispatch.counters_def where name like $1`, [`${S}_%`]).catch(() => {});
    for (const def of saved) await q(def).catch(() => {});
    await client.end();
  });

  const receipts = (event: string) =>
    q(
      `select channel, transport, coalesce(user_id::text, '') as user_id, coalesce(address, '') as address, status
       from dispatch.receipts where event_id = $1 order by channel, user_id, address`,
      [`${S}.${event}`],
    );
  const counter = async (name: string, scope: string) =>
    Number((await q('select dispatch.counter_value($1, $2) as v', [`${S}_${name}`, scope]))[0].v);
  /** This suite's captured changes (other suites share the database). */
  const changes = async () =>
    Number(
      (await q('select count(*)::int as n from dispatch.changes where source_table = $1', [`${S}.orders`]))[0]
        .n,
    );
  /** After commit, as the worker / dispatch.tick() would; then nothing of ours is left. */
  const drain = async () => {
    await drainAll(q, { sourceLike: `${S}.%` });
    assert.equal(await changes(), 0, 'dispatch.changes holds nothing of this suite after the drain');
  };

  it('bulk INSERT: receipts for every audience format, counters per scope', async () => {
    // (checked inside the writing transaction: once committed, a worker of this stack may drain it)
    await q('begin');
    try {
      await q(
        `insert into ${S}.orders (user_id, product_id, region, total)
         select $1::uuid, $2::uuid, 'eu', g from generate_series(1, 50) g`,
        [U(1), U(101)],
      );
      assert.equal(await changes(), 1, 'one change for the statement');
      assert.deepEqual(await receipts('order.created'), [], 'nothing expanded inside the write');
      await q('commit');
    } catch (e) {
      await q('rollback');
      throw e;
    }
    await drain();
    const r = await receipts('order.created');
    const by = (ch: string) => r.filter((x) => x.channel === ch);
    assert.equal(by('in_app:buyer').length, 50);
    assert.ok(by('in_app:buyer').every((x) => x.user_id === U(1) && x.status === 'sent'));
    assert.equal(by('in_app:seller').length, 50);
    assert.ok(by('in_app:seller').every((x) => x.user_id === U('c')));
    assert.equal(by('email:regionalAdmin').length, 50); // only the EU admin
    assert.ok(
      by('email:regionalAdmin').every(
        (x) => x.user_id === U('a') && x.address === 'ada@shop.example' && x.status === 'pending',
      ),
    );
    assert.equal(by('webhook:ops').length, 50);
    assert.ok(
      by('webhook:ops').every((x) => x.address === 'https://hooks.example.test/orders' && x.user_id === ''),
    );
    const n = await q(
      `select title, message from dispatch.notifications where event_id = $1 and message = 'Order #1 (1)'`,
      [`${S}.order.created`],
    );
    assert.equal(n.length, 2); // buyer and seller
    assert.equal(await counter('pending', U(1)), 50);
    assert.equal(await counter('seller_open', U('c')), 50);
    // sharded: published at commit
    assert.equal(await counter('admin_open', 'staff'), 50);
  });

  it('bulk UPDATE: only rows whose status changed to shipped fire; counters move both ways', async () => {
    await q(`update ${S}.orders set status = 'shipped' where total <= 10`);
    await q(`update ${S}.orders set status = 'shipped' where total <= 10`); // no change: no new receipts
    await q(`update ${S}.orders set status = 'paid' where total between 11 and 20`);
    await drain();
    const r = await receipts('order.shipped');
    assert.equal(r.filter((x) => x.channel === 'in_app:buyer').length, 10);
    assert.equal(r.filter((x) => x.channel === 'in_app:onDuty' && x.user_id === U('a')).length, 10);
    assert.equal(r.length, 20);
    const m = await q(
      `select message from dispatch.notifications where event_id = $1 order by message limit 1`,
      [`${S}.order.shipped`],
    );
    assert.match(m[0].message, /^Order #\d+ shipped \(was pending\)$/);
    assert.equal(await counter('pending', U(1)), 30);
    assert.equal(await counter('seller_open', U('c')), 40);
    assert.equal(await counter('admin_open', 'staff'), 40);
  });

  it('bulk DELETE: raw SQL condition over OLD; counters go down, never negative', async () => {
    await q(`update ${S}.orders set total = total + 100 where total > 45`); // 46..50 become big
    await q(`delete from ${S}.orders where total > 40`);
    await drain();
    const r = await receipts('order.removed');
    assert.equal(r.filter((x) => x.channel === 'in_app:staff').length, 10); // 5 big orders × 2 admins
    assert.equal(r.filter((x) => x.channel === 'slack:ops' && x.address === 'secret:SLACK_OPS').length, 5);
    assert.equal(await counter('pending', U(1)), 20);
    assert.equal(await counter('admin_open', 'staff'), 30);
    await q(`delete from ${S}.orders`);
    await drain();
    assert.equal(await counter('pending', U(1)), 0);
    assert.equal(await counter('seller_open', U('c')), 0);
    assert.equal(await counter('admin_open', 'staff'), 0);
  });

  it('counters agree with reconcile and no occurrence failed', async () => {
    await q(`insert into ${S}.orders (user_id, product_id, region) values ($1, $2, 'us'), ($3, null, 'us')`, [
      U(2),
      U(101),
      U(1),
    ]);
    await drain();
    const drift = await q(
      `select * from dispatch.reconcile_counters(null, false) where name like $1 and expected <> actual`,
      [`${S}_%`],
    );
    assert.deepEqual(drift, []);
    const failed = await q(
      `select event_id, error from dispatch.occurrences where event_id like $1 and status = 'failed'`,
      [`${S}.%`],
    );
    assert.deepEqual(failed, []);
  });

  it('a counter of every row into one audience: counted without change rows (by its writers, or from the WAL once a slot exists)', async () => {
    const triggers = await q(
      `select tgname, pg_get_triggerdef(oid) as def from pg_trigger
       where tgrelid = $1::regclass and not tgisinternal order by tgname`,
      [`${S}.products`],
    );
    assert.deepEqual(
      triggers.map((t) => t.tgname),
      ['dispatch_capture_delete', 'dispatch_capture_insert'],
      'no UPDATE capture: an update cannot move the counter',
    );
    // the generated migration asked for counting from the WAL (core 066): at once when a slot exists,
    // else its writers count until pg_cron's tick creates one
    const [{ live }] = await q(
      `select coalesce((select live from dispatch.wal_count_sources where source_table = $1), false) as live`,
      [`${S}.products`],
    );
    assert.ok(
      triggers.every((t) =>
        live
          ? t.def.includes('dispatch.wake_on_count()')
          : t.def.includes(`count_changes('${S}_products', 'staff')`),
      ),
      live ? 'counted from the WAL: the triggers only wake the worker' : 'counted by the writer',
    );
    const products = async () => Number((await q(`select count(*)::int as n from ${S}.products`))[0].n);
    const total = async () =>
      Number(
        (
          await q(`select coalesce(sum(total), 0)::int as n from dispatch.counter_pending where name = $1`, [
            `${S}_products`,
          ])
        )[0].n,
      );
    const before = await total();
    await q('begin');
    try {
      await q(`insert into ${S}.products (name) select 'p' || g from generate_series(1, 3) g`);
      const [c] = await q(`select count(*)::int as n from dispatch.changes where source_table = $1`, [
        `${S}.products`,
      ]);
      assert.equal(c.n, 0, 'no change row');
      if (!live)
        assert.equal(await total(), before + 3, "the statement's row count, in this backend's total");
      await q('commit');
    } catch (e) {
      await q('rollback');
      throw e;
    }
    await q('begin');
    await q(`insert into ${S}.products (name) values ('rolled back')`);
    await q('rollback');
    if (!live) assert.equal(await total(), before + 3, 'a rolled-back write never reaches the total');
    await q(`update ${S}.products set name = 'renamed' where seller_id is null`);
    await q(
      `delete from ${S}.products where name = 'renamed' and id in (select id from ${S}.products where seller_id is null limit 2)`,
    );
    await q(`insert into ${S}.products (name) values ('one more')`);
    await drain();
    assert.equal(await counter('products', 'staff'), await products());
    assert.equal(await products(), 3); // the seller's product, one of the three, one more
    const drift = await q(`select * from dispatch.reconcile_counters($1, false) where expected <> actual`, [
      `${S}_products`,
    ]);
    assert.deepEqual(drift, []);
  });

  it('a rolled-back write leaves no change, no receipt and no counter move', async () => {
    const before = {
      receipts: (await receipts('order.created')).length,
      pending: await counter('pending', U(2)),
    };
    await q('begin');
    try {
      await q(`insert into ${S}.orders (user_id, region) values ($1, 'us'), ($1, 'us')`, [U(2)]);
      assert.equal(await changes(), 1, 'captured inside the transaction');
    } finally {
      await q('rollback');
    }
    assert.equal(await changes(), 0);
    await drain();
    assert.deepEqual(
      { receipts: (await receipts('order.created')).length, pending: await counter('pending', U(2)) },
      before,
    );
  });

  it('dispatch.emit fires an event by hand through the same expander', async () => {
    const [row] = await q(`select to_jsonb(o) as r from ${S}.orders o where user_id = $1 limit 1`, [U(2)]);
    await q(`select dispatch.emit($1, $2::jsonb)`, [`${S}.order.created`, row.r]);
    const r = await q(
      `select count(*)::int as n from dispatch.receipts where event_id = $1 and user_id = $2 and channel = 'in_app:buyer'`,
      [`${S}.order.created`, U(2)],
    );
    assert.equal(r[0].n, 2); // the insert and the emit
  });

  it('in-app texts rendered by the generated expander (compiled templates) equal dispatch.render, cap included', async () => {
    // a long number: the message is longer than the cap below, the title is not
    const [row] = await q(
      `select to_jsonb(o) || '{"number": 123456789}' as r from ${S}.orders o where user_id = $1 limit 1`,
      [U(2)],
    );
    const message = async () => {
      // emit in one transaction with the setting: render_max_length as the expander reads it
      const [occ] = await q(`select dispatch.emit($1, $2::jsonb) as id`, [`${S}.order.created`, row.r]);
      const [n] = await q(
        `select n.title, n.message, dispatch.render('Order #{{number}} ({{total}})', o.new_record) as rendered
         from dispatch.notifications n join dispatch.occurrences o on o.id = n.occurrence_id
         where n.occurrence_id = $1 and n.user_id = $2`,
        [occ.id, U(2)],
      );
      return n;
    };
    const full = await message();
    assert.equal(full.message, full.rendered);
    assert.equal(full.title, 'Order created');
    await q('begin');
    try {
      await q(`select dispatch.set_setting('render_max_length', '14')`);
      const cut = await message();
      assert.equal(cut.message, cut.rendered, 'cut as dispatch.render cuts');
      assert.equal(cut.message, `${String(full.message).slice(0, 2)} [truncated]`);
      assert.equal(cut.title, 'Order created', 'a text within the cap is kept');
    } finally {
      await q('rollback');
    }
  });

  it('an event without a table fires only through dispatch.emit', async () => {
    await q(`select dispatch.emit($1, '{"name": "Ann"}'::jsonb)`, [`${S}.welcome`]);
    const r = await receipts('welcome');
    assert.deepEqual(
      r.map((x) => `${x.channel} ${x.user_id || x.address} ${x.status}`),
      [`email:ops ops@shop.example pending`, `in_app:staff ${U('a')} sent`, `in_app:staff ${U('b')} sent`],
    );
    const n = await q(`select distinct title from dispatch.notifications where event_id = $1`, [
      `${S}.welcome`,
    ]);
    assert.deepEqual(n, [{ title: 'Hi Ann' }]);
  });

  it('generated functions: no EXECUTE for public / anon / authenticated; service_role may run expanders', async () => {
    const fns = await q(
      `select p.oid::regprocedure::text as sig,
              has_function_privilege('authenticated', p.oid, 'EXECUTE') as auth,
              has_function_privilege('anon', p.oid, 'EXECUTE') as anon,
              exists (select from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                      where a.grantee = 0 and a.privilege_type = 'EXECUTE') as public,
              has_function_privilege('service_role', p.oid, 'EXECUTE') as service
       from pg_proc p join pg_namespace n on n.oid = p.pronamespace
       where n.nspname = 'dispatch'
         and (p.proname like $1 or p.proname like $2 or p.proname like $3
              or p.proname in ('is_audience_member', 'user_audiences', 'is_admin'))
       order by 1`,
      [`ev\\_${S}%`, `ct\\_${S}%`, `src\\_${S}%`],
    );
    // 4 expanders + the orders and products tables' processors + 3 membership hooks (no event or
    // counter trigger function: none of the events is strict)
    assert.equal(fns.length, 9, JSON.stringify(fns.map((f) => f.sig)));
    assert.ok(
      fns.some((f) => f.sig === `dispatch.src_${S}_orders_process(dispatch.changes[])`),
      JSON.stringify(fns.map((f) => f.sig)),
    );
    for (const f of fns) {
      assert.deepEqual(
        { sig: f.sig, auth: f.auth, anon: f.anon, public: f.public },
        { sig: f.sig, auth: false, anon: false, public: false },
      );
      if (!/_trg\(\)$|_process\(dispatch\.changes\[\]\)$/.test(String(f.sig)))
        assert.equal(f.service, true, `${f.sig} for service_role`);
    }
    // a signed-in user cannot call an expander with crafted occurrences
    const expander = fns.find((f) => /_order_created_expand\(/.test(String(f.sig)))!.sig as string;
    await q('begin');
    try {
      await q('set local role authenticated');
      await assert.rejects(
        q(`select ${expander.replace(/\(.*$/, '')}(array[]::dispatch.occurrences[])`),
        (e: Error & { code?: string }) => e.code === '42501',
      );
    } finally {
      await q('rollback');
    }
  });

  it('writes by a signed-in user (RLS-permitted, no EXECUTE on the trigger functions) still fire', async () => {
    await q(`grant usage on schema ${S} to authenticated`);
    await q(`grant select, insert, update on ${S}.orders to authenticated`);
    await q(`grant usage, select on all sequences in schema ${S} to authenticated`);
    await q(`alter table ${S}.orders enable row level security`);
    await q(
      `create policy own_insert on ${S}.orders for insert to authenticated with check (user_id = auth.uid())`,
    );
    await q(
      `create policy own_select on ${S}.orders for select to authenticated using (user_id = auth.uid())`,
    );
    await q(
      `create policy own_update on ${S}.orders for update to authenticated using (user_id = auth.uid())`,
    );
    await q('begin');
    try {
      await q('set local role authenticated');
      await q(`select set_config('request.jwt.claims', $1, true)`, [
        JSON.stringify({ sub: U(2), role: 'authenticated' }),
      ]);
      await q(
        `insert into ${S}.orders (user_id, product_id, region, total) values ($1, $2, 'eu', 7), ($1, $2, 'eu', 8)`,
        [U(2), U(101)],
      );
      await q(`update ${S}.orders set status = 'shipped' where user_id = $1 and total = 7`, [U(2)]);
      await q('commit');
    } catch (e) {
      await q('rollback');
      throw e;
    }
    // the changes remember who wrote: the occurrences' actor is the signed-in user, not the drainer
    await drain();
    const created = await q(
      `select count(*)::int as n from dispatch.receipts r join dispatch.occurrences o on o.id = r.occurrence_id
       where r.event_id = $1 and r.channel = 'in_app:buyer' and r.user_id = $2 and o.actor = $2`,
      [`${S}.order.created`, U(2)],
    );
    assert.equal(created[0].n, 2);
    const shipped = await q(
      `select count(*)::int as n from dispatch.receipts where event_id = $1 and channel = 'in_app:buyer' and user_id = $2`,
      [`${S}.order.shipped`, U(2)],
    );
    assert.equal(shipped[0].n, 1);
    assert.equal(await counter('pending', U(2)), 2); // the us order from before + the 8
    const drift = await q(
      `select * from dispatch.reconcile_counters(null, false) where name like $1 and expected <> actual`,
      [`${S}_%`],
    );
    assert.deepEqual(drift, []);
  });

  it('audience membership: admin check and topics follow the config', async () => {
    const [a] = await q(
      'select dispatch.is_admin($1) as a, dispatch.is_admin($2) as b, dispatch.user_audiences($1) as aud',
      [U('a'), U(1)],
    );
    assert.equal(a.a, true);
    assert.equal(a.b, false);
    assert.deepEqual(a.aud, ['admin', 'staff']);
  });
});
