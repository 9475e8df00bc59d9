/**
 * Hostile names in the config (tables, columns, event ids, audience, counter and category names):
 * - the checker (property-based): every name it accepts is a plain identifier (nothing that could
 *   end a quoted identifier or a literal: no quote, semicolon, space, dash, comment or backslash);
 *   every name it refuses gets an issue at that name's path;
 * - names it accepts that still need quoting (upper case, reserved words) are quoted by the
 *   generator: a golden of the generated migration (e2e/attacks/golden/hostile-names.migration.sql),
 *   and the migration runs on the real database (rolled back) with the triggers on the right table.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import pg from 'pg';
import { plan } from '../../sdk/src/generator/index.ts';
import { checkConfig, validateConfig } from '../../sdk/src/index.ts';
import { golden } from '../../sdk/test/support/golden.ts';
import { makeProject } from '../../sdk/test/support/project.ts';
import { Scoreboard } from './support.ts';

const board = new Scoreboard('config-names');
const RUNS = 300;
after(() => board.write());

const hostileName = fc.oneof(
  fc.stringMatching(/^[a-z_][a-z0-9_]{0,10}$/),
  fc
    .array(
      fc.constantFrom(
        'a',
        'Z',
        '_',
        '1',
        '"',
        "'",
        ';',
        ' ',
        '-',
        '--',
        '/*',
        '\\',
        '.',
        '$',
        'é',
        '\u0000',
        '`',
        ')',
        '(',
      ),
      {
        minLength: 1,
        maxLength: 12,
      },
    )
    .map((p) => p.join('')),
  fc.constantFrom(
    'orders"; drop table x; --',
    "orders'); drop table x; --",
    'select',
    'Orders',
    'public.orders; drop',
    'x/*',
    'a'.repeat(64),
  ),
);
/** What no accepted name may contain: anything that could leave an identifier or a literal. */
const BREAKOUT = /["';\s\\/*`()]|[^\x20-\x7e]/;
/** Event ids are stored as literals and may hold dashes ("user-signup.sent"); SQL names may not. */
const breaksOut = (field: string, name: string) =>
  BREAKOUT.test(name) || (field !== 'eventId' && name.includes('-'));

function configWith(over: {
  table?: string;
  column?: string;
  eventId?: string;
  audience?: string;
  counter?: string;
  category?: string;
}) {
  const audience = over.audience ?? 'buyer';
  return {
    transports: { in_app: {} },
    audiences: { [audience]: { column: over.column ?? 'user_id' } },
    events: {
      [over.eventId ?? 'order.created']: {
        table: over.table ?? 'orders',
        on: 'insert',
        channels: [{ transport: 'in_app', audience }],
        content: { title: 't' },
        metadata: { category: over.category ?? 'orders' },
      },
    },
    counters: {
      [over.counter ?? 'open_orders']: {
        table: over.table ?? 'orders',
        scope: { user: over.column ?? 'user_id' },
      },
    },
  };
}

describe('config: hostile names are rejected or quoted, never spliced', () => {
  test('the base config of the property tests is valid (so a refusal is about the name)', () => {
    assert.deepEqual(checkConfig(configWith({})), []);
  });

  // (a category is a label, not a name: any text, stored as a literal; see the golden test below)
  for (const field of ['table', 'column', 'eventId', 'audience', 'counter'] as const) {
    test(`checker: ${field}`, () => {
      let breached = false;
      let accepted = 0;
      try {
        fc.assert(
          fc.property(hostileName, (name) => {
            const issues = checkConfig(configWith({ [field]: name }));
            if (issues.length === 0) {
              accepted++;
              assert.ok(!breaksOut(field, name), `${field} ${JSON.stringify(name)} was accepted`);
            } else {
              assert.ok(
                issues.every((i) => i.message.length > 0 && i.path.length > 0),
                JSON.stringify(issues),
              );
            }
          }),
          { numRuns: RUNS },
        );
      } catch (error) {
        breached = true;
        throw error;
      } finally {
        board.count(`hostile ${field} names through the checker`, RUNS, breached);
      }
      assert.ok(accepted > 0, `no ${field} name was accepted: the property would be vacuous`);
    });
  }

  test('accepted names that need quoting are quoted in the generated migration (golden), which runs on the database', async (t) => {
    const config = validateConfig({
      transports: { in_app: {} },
      audiences: { buyer: { column: 'Owner' }, Sel: { column: 'select' } },
      events: {
        'order.created': {
          table: 'public.Orders',
          on: 'insert',
          when: { where: { Status: "x'); drop table pwned; --" } },
          channels: [
            { transport: 'in_app', audience: 'buyer' },
            { transport: 'in_app', audience: 'Sel' },
          ],
          content: { title: "it's {{Status}}" },
          metadata: { category: 'o\'rders"; drop table pwned; --' },
        },
      },
      counters: {
        open_orders: { table: 'public.Orders', scope: { user: 'Owner' }, where: { Status: "o'pen" } },
      },
    });
    const root = makeProject();
    const p = await plan(config, {
      root,
      configDir: root,
      core: { version: '0.0.0-test', sql: '-- (core SQL)\n', hash: 'test-core-hash' },
      now: () => new Date('2026-11-25T12:00:00Z'),
    });
    const sql = p.migration!.content;
    await board.attack('the golden of the quoted migration changed', () =>
      golden('../../../e2e/attacks/golden/hostile-names.migration.sql', sql),
    );
    await board.attack('an unquoted upper-case or reserved name in the migration', () => {
      // the code, without comments and string literals (where a name is data, not SQL)
      // (one pass: a literal may hold `--`, a comment may hold a quote)
      const code = sql.replace(/'(?:[^']|'')*'|--[^\n]*/g, (m) => (m.startsWith("'") ? "''" : ''));
      assert.match(code, /public\."Orders"/);
      assert.doesNotMatch(code, /public\.Orders\b/);
      assert.doesNotMatch(code, /[^"]\b(Owner|Status)\b/);
      assert.ok(sql.includes("x''); drop table pwned; --"), 'the condition value is a doubled-quote literal');
    });
    const dbUrl = process.env.SUPABASE_DB_URL;
    if (!dbUrl) return t.skip('the database half needs SUPABASE_DB_URL');
    const db = new pg.Client({ connectionString: dbUrl });
    await db.connect();
    try {
      await db.query('begin');
      await db.query(
        `create table public."Orders" (id bigint primary key, "Owner" uuid, "select" uuid, "Status" text)`,
      );
      await db.query(`create table public.pwned (id int)`);
      await db.query(sql);
      const { rows } = await db.query<{ n: number; pwned: boolean }>(
        `select (select count(*)::int from pg_trigger where tgrelid = 'public."Orders"'::regclass and not tgisinternal) as n,
                to_regclass('public.pwned') is not null as pwned`,
      );
      const { rows: events } = await db.query<{ category: string }>(
        `select category from dispatch.events where id = 'order.created'`,
      );
      await board.attack('the hostile condition value or category ran as SQL', () => {
        assert.ok(rows[0].n > 0, 'the triggers are on public."Orders"');
        assert.equal(rows[0].pwned, true, 'public.pwned was not dropped');
        assert.equal(
          events[0]?.category,
          'o\'rders"; drop table pwned; --',
          'the category is stored as given',
        );
      });
    } finally {
      await db.query('rollback').catch(() => {});
      await db.end();
    }
  });
});
