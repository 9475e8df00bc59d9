import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, checkConfig, didYouMean, formatPath, validateConfig } from '../src/index.ts';
import shop from './fixtures/shop.config.ts';

// biome-ignore lint/suspicious/noExplicitAny: configs under test are deliberately malformed
type Loose = any;

const base = () => ({
  transports: { in_app: {}, email: { from: 'Shop <noreply@shop.example>' } },
  audiences: { seller: { column: 'seller_id' }, admin: { where: { is_admin: true } } },
  events: {
    'order.shipped': {
      table: 'orders',
      on: 'update',
      channels: [{ transport: 'in_app', audience: 'seller' }],
      content: { title: 'Shipped', message: 'Order {{number}}' },
    },
  },
});

/** Problems as "path: message" lines. */
function problems(cfg: unknown, options?: Parameters<typeof checkConfig>[1]): string[] {
  return checkConfig(cfg, options).map((i) => `${formatPath(i.path)}: ${i.message}`);
}

function withEvent(patch: Record<string, unknown>) {
  const c = base() as Loose;
  c.events['order.shipped'] = { ...c.events['order.shipped'], ...patch };
  return c;
}

describe('config validation', () => {
  it('accepts the shop config (every audience format) and normalizes it sorted', () => {
    const n = validateConfig(shop);
    assert.deepEqual(
      n.audiences.map((a) => `${a.name}:${a.kind}`),
      [
        'admin:filter',
        'buyer:column',
        'onDuty:function',
        'ops:system',
        'regionalAdmin:filter',
        'seller:chain',
      ],
    );
    assert.deepEqual(
      n.events.map((e) => e.id),
      ['accounts.welcome', 'order.cancelled', 'order.created', 'order.shipped'],
    );
    assert.equal(n.events.find((e) => e.id === 'order.created')!.channels[2].delaySeconds, 300);
    assert.deepEqual(n.counters.find((k) => k.name === 'pending_orders')!.invalidates, [
      ['orders'],
      ['order-stats'],
    ]);
    assert.equal(n.counters.find((k) => k.name === 'admin_open_orders')!.shards, 4);
    assert.deepEqual(n.users.email, { table: { schema: 'auth', name: 'users' }, column: 'email', id: 'id' });
  });

  it('refuses a table of Supabase Auth as an event or counter source, pointing to a profiles table', () => {
    const c = withEvent({ table: 'auth.users', on: 'insert' }) as Loose;
    c.counters = { users_total: { table: 'auth.identities', scope: 'global' } };
    const found = problems(c);
    const eventIssue = found.find((p) => p.startsWith('events["order.shipped"].table: '));
    const counterIssue = found.find((p) => p.startsWith('counters.users_total.table: '));
    assert.ok(eventIssue, found.join('\n'));
    assert.match(eventIssue, /"auth\.users" belongs to Supabase Auth and cannot be a source/);
    assert.match(eventIssue, /"public\.profiles"/);
    assert.ok(counterIssue, found.join('\n'));
    assert.match(counterIssue, /"auth\.identities" belongs to Supabase Auth/);
    // Reading auth.users for addresses stays allowed (users.email defaults to it).
    assert.deepEqual(validateConfig(base()).users.email.table, { schema: 'auth', name: 'users' });
  });

  it('reports an unknown audience with its path and a suggestion', () => {
    const c = withEvent({
      channels: [
        { transport: 'in_app', audience: 'seller' },
        { transport: 'in_app', audience: 'sellr' },
      ],
    });
    assert.deepEqual(problems(c), [
      'events["order.shipped"].channels[1].audience: unknown audience "sellr" — did you mean "seller"?',
    ]);
  });

  it('lists every problem at once and throws a ConfigError naming them all', () => {
    const c = withEvent({
      channels: [{ transport: 'emial', audience: 'nobody' }],
      content: { subjct: 'x', title: 't', message: 'm' },
    });
    (c as Loose).admn = 'admin';
    const expected = [
      'admn: unknown key "admn" — did you mean "admin"?',
      'events["order.shipped"].channels[0].transport: unknown transport "emial" — did you mean "email"?',
      'events["order.shipped"].channels[0].audience: unknown audience "nobody" (declared: "admin", "seller")',
      'events["order.shipped"].content.subjct: unknown key "subjct" — did you mean "subject"?',
    ];
    assert.deepEqual(problems(c), expected);
    assert.throws(
      () => validateConfig(c),
      (e: unknown) => e instanceof ConfigError && e.issues.length === 4 && e.message.includes('4 problems'),
    );
  });

  it('checks transports: unknown names, unconfigured ones, settings and inline secrets', () => {
    const c = base() as Loose;
    c.transports = {
      in_app: {},
      email: { from: 'a <a@b.c>', apiKeySecret: 're_9aX3kLmN0pQrStUv' },
      webhook: { signingSecret: 'whsec_abcdefghijklmnop' },
      slack: { defaultUrlSecret: 'https://hooks.slack.com/services/T000/B000/XXXX' },
      pigeon: {},
    };
    c.events['order.shipped'].channels.push({ transport: 'sms', audience: 'seller' });
    assert.deepEqual(problems(c), [
      "transports.email.apiKeySecret: looks like a Resend API key; put it in a secret and reference the secret's name instead",
      'transports.pigeon: unknown transport "pigeon" (declared: "discord", "email", "in_app", "slack", "sms", "webhook")',
      'transports.slack.defaultUrlSecret: must be the name of a secret (letters, digits, _)',
      "transports.slack.defaultUrlSecret: looks like a Slack webhook URL (the URL is the secret); put it in a secret and reference the secret's name instead",
      "transports.webhook.signingSecret: looks like a webhook signing secret; put it in a secret and reference the secret's name instead",
      'events["order.shipped"].channels[1].transport: transport "sms" is not configured (add it under transports)',
    ]);
  });

  it('flags secrets in URLs and system recipients', () => {
    const c = base() as Loose;
    c.audiences.ops = {
      system: [
        { webhook: 'https://example.test/hook?token=abcdef123456' },
        { slack: 'https://hooks.slack.com/services/T1/B2/abc' },
        { email: 'not-an-email' },
      ],
    };
    assert.deepEqual(problems(c), [
      "audiences.ops.system[0].webhook: looks like a URL with a token; put it in a secret and reference the secret's name instead",
      "audiences.ops.system[1].slack: looks like a Slack webhook URL (the URL is the secret); reference the webhook URL by secret name: { slack: { urlSecret: 'MY_SLACK_WEBHOOK_URL' } }",
      'audiences.ops.system[2].email: must be an email address',
    ]);
  });

  it('checks each audience format', () => {
    const c = base() as Loose;
    c.audiences = {
      a: { colum: 'user_id' },
      b: { column: 'user_id', where: { x: 1 } },
      c: { chain: ['order_id'] },
      d: { chain: ['order_id', 'orders'] },
      e: { where: { region: { fromRw: 'region' } } },
      f: { function: 'not a function name' },
      g: { system: [] },
      seller: { column: 'seller_id' },
      '9bad': 'user_id',
    };
    assert.deepEqual(problems(c), [
      'audiences["9bad"]: audience name "9bad" must start with a letter and use letters, digits, _',
      'audiences.a: must have one of column, where, chain, function, system — did you mean "column"?',
      'audiences.b: has both column and where; an audience has exactly one form',
      'audiences.c.chain: must be a row column followed by at least one "table.column" hop, e.g. ["order_id", "orders.user_id"]',
      'audiences.d.chain[1]: "orders" must be "table.column" or "schema.table.column"',
      'audiences.e.where.region: unknown test "fromRw" — did you mean "fromRow"?',
      'audiences.f.function: "not a function name" is not a table name (expected "table" or "schema.table")',
      'audiences.g.system: must list at least one recipient',
    ]);
  });

  it('checks channel/audience compatibility', () => {
    const c = base() as Loose;
    c.transports.webhook = {};
    c.audiences.ops = { system: [{ email: 'ops@shop.example' }] };
    c.events['order.shipped'].channels = [
      { transport: 'in_app', audience: 'ops' },
      { transport: 'webhook', audience: 'ops' },
      { transport: 'webhook', audience: 'seller' },
    ];
    assert.deepEqual(problems(c), [
      'events["order.shipped"].channels[0].audience: audience "ops" is a system audience (no users); transport "in_app" needs user recipients',
      'events["order.shipped"].channels[1].audience: system audience "ops" has no webhook recipient for transport "webhook"',
      'events["order.shipped"].channels[2].transport: webhook channels need a system audience with webhook URLs; "seller" is a column audience',
    ]);
  });

  it('checks events: table, on, conditions, delays, content and modules', () => {
    const c = base() as Loose;
    c.events = {
      'bad id!': { module: './x.ts' },
      'a.noTable': {
        on: 'insert',
        channels: [{ transport: 'in_app', audience: 'admin' }],
        content: { title: 't' },
      },
      'a.badOn': { table: 'orders', on: 'upsert', channels: [] },
      'a.cond': {
        table: 'orders',
        on: 'insert',
        when: { changed: 'status', to: 'x', whre: {} },
        channels: [{ transport: 'in_app', audience: 'seller', delay: '5 minutes' }],
        content: { title: 'Order {{ number', message: '{{a b}}' },
      },
      'a.sql': {
        table: 'public.orders',
        on: ['update'],
        when: { sql: "new.status = 'x'; drop table orders" },
        channels: [{ transport: 'email', audience: 'seller' }],
        content: { text: 'hi' },
      },
      'a.mod': { module: 'events/x.py' },
      'a.empty': { table: 'orders', on: 'insert' },
    };
    assert.deepEqual(problems(c), [
      'events["a.badOn"].on: must be "insert", "update", "delete" or a non-empty list of them',
      'events["a.cond"].when.whre: unknown condition key "whre" — did you mean "where"?',
      'events["a.cond"].when.changed: only applies to update events (add "update" to `on`)',
      'events["a.cond"].channels[0].delay: must be seconds or a duration like "30s", "5m", "2h", "1d"',
      'events["a.cond"].content.message: placeholder {{a b}} must be a column or a dotted path like {{a.b}}',
      'events["a.cond"].content.title: has an unclosed {{ placeholder }}',
      'events["a.empty"]: needs channels or a module',
      'events["a.mod"].module: "events/x.py" must be a .ts or .js module path relative to the config',
      'events["a.noTable"].table: is required when `on` is given',
      'events["a.sql"].when.sql: must be a single boolean expression (no ";")',
      'events["a.sql"].content: channel transport "email" needs content.subject',
      'events["bad id!"]: event id "bad id!" must be dotted words like "order.shipped"',
    ]);
  });

  it('checks counters: names, scope, audience kinds', () => {
    const c = base() as Loose;
    c.counters = {
      unread_notifications: { table: 'x', scope: { user: 'user_id' } },
      BadName: { table: 'orders', scope: { user: 'user_id' } },
      a: { table: 'orders', scope: { audiance: 'admin' } },
      b: { table: 'orders', scope: { audience: 'admn' } },
      c: { table: 'orders', scope: { audience: 'seller' } },
      d: { table: 'orders', where: { status: { gt: null } }, scope: { user: 'user_id' } },
      e: { table: 'orders', scope: { user: 'user_id' }, invalidates: 'orders' },
    };
    assert.deepEqual(problems(c), [
      'counters.BadName: counter name "BadName" must be snake_case (a-z, 0-9, _)',
      'counters.a.scope: must have exactly one of user, audience — did you mean "audience"?',
      'counters.b.scope.audience: unknown audience "admn" — did you mean "admin"?',
      'counters.c.scope.audience: audience "seller" is a column audience; an audience-scoped counter needs a filter or function audience (use { user: ... } for per-user counts)',
      'counters.d.where.status.gt: null cannot be compared; use isNull',
      'counters.e.invalidates: expected array',
      'counters.unread_notifications: "unread_notifications" is built in; choose another name',
    ]);
  });

  it('checks admin', () => {
    const c = base() as Loose;
    c.admin = 'seller';
    assert.deepEqual(problems(c), [
      'admin: audience "seller" is a column audience; the admin audience must be a filter or a function (a set of users independent of any row)',
    ]);
    c.admin = 'admins';
    assert.deepEqual(problems(c), ['admin: unknown audience "admins" — did you mean "admin"?']);
  });

  it('checks columns against known tables when given', () => {
    const c = withEvent({ when: { changed: 'stauts' }, content: { title: '{{numbr}}', message: 'm' } });
    c.audiences.seller = { column: 'seller_id' };
    const columns = {
      'public.orders': ['id', 'number', 'status', 'seller_id'],
      'public.profiles': ['id', 'is_admin'],
    };
    assert.deepEqual(problems(c, { columns }), [
      'events["order.shipped"].when.changed: unknown column of public.orders "stauts" — did you mean "status"?',
      'events["order.shipped"].content.title: unknown column of public.orders "numbr" — did you mean "number"?',
    ]);
  });

  it('checks tables against known tables when given', () => {
    const c = withEvent({ table: 'oders' });
    c.audiences.seller = { chain: ['product_id', 'prodcts.seller_id'] };
    const columns = {
      'public.orders': ['id', 'number', 'product_id'],
      'public.products': ['id', 'seller_id'],
      'public.profiles': ['id', 'is_admin'],
    };
    assert.deepEqual(problems(c, { columns }), [
      'audiences.seller.chain[1]: unknown table "public.prodcts" — did you mean "public.products"?',
      'events["order.shipped"].table: unknown table "public.oders" — did you mean "public.orders"?',
    ]);
  });

  it('rejects a non-object config and missing sections', () => {
    assert.deepEqual(problems(null), [
      '(config): the config must be an object (the default export of defineDispatch({...})), got null',
    ]);
    assert.deepEqual(problems({}), [
      'transports: transports is required (an object)',
      'audiences: audiences is required (an object)',
      'events: events is required (an object)',
    ]);
  });

  it('suggests only close names', () => {
    assert.equal(didYouMean('sellr', ['seller', 'admin']), 'seller');
    assert.equal(didYouMean('emial', ['email']), 'email');
    assert.equal(didYouMean('xyz', ['seller', 'admin']), undefined);
  });
});
