/**
 * Who may do what over REST: the dispatch tables, Vault and the other internal schemas through
 * PostgREST (Accept-Profile / Content-Profile, supabase-js `.schema()`), and the exposed schemas
 * (public, graphql_public) for any table or view that would hand out dispatch rows. Tried as anon
 * and as another signed-in user; reads return nothing of the victim, writes change no row.
 * Defence in depth: client roles hold no privilege on any dispatch table even if the schema were
 * exposed, and RLS is on everywhere.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { missingTargetMessage, testTarget } from '../../local/test/support/env.ts';
import { type Cast, createCast } from './cast.ts';
import { fingerprint, Scoreboard } from './support.ts';

const target = testTarget();
const board = new Scoreboard('rest-paths');

describe('REST paths: internal schemas and exposed schemas', {
  skip: !target && missingTargetMessage,
}, () => {
  let cast: Cast;
  let tables: string[];
  const snapshot = () => fingerprint(cast.db, [cast.victim.id, cast.admin.id], `${cast.run}.`);
  const rest = (path: string, token: string, init: RequestInit & { headers?: Record<string, string> } = {}) =>
    fetch(`${target!.url}/rest/v1/${path}`, {
      ...init,
      headers: { apikey: target!.anonKey, authorization: `Bearer ${token}`, ...init.headers },
    });

  before(async () => {
    cast = await createCast(target!);
    const { rows } = await cast.db.query<{ relname: string }>(
      `select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'dispatch' and c.relkind in ('r', 'p', 'v', 'm') order by 1`,
    );
    tables = rows.map((r) => r.relname);
  });
  after(async () => {
    await cast?.cleanup();
    board.write();
  });

  const callers = () =>
    [
      ['anon', target!.anonKey],
      ['mallory', cast.mallory.session.access_token],
    ] as const;

  test('reading any dispatch table through PostgREST (schema dispatch) is refused', async () => {
    assert.ok(tables.length >= 15, `dispatch has ${tables.length} tables`);
    for (const [who, token] of callers()) {
      for (const table of tables) {
        await board.attack(`${who} reads dispatch.${table}`, async () => {
          const res = await rest(`${table}?select=*`, token, { headers: { 'accept-profile': 'dispatch' } });
          const body = await res.text();
          assert.ok(res.status >= 400, `${who} read dispatch.${table}: ${res.status} ${body.slice(0, 200)}`);
          assert.ok(!body.includes(cast.victimMarker) && !body.includes(cast.victim.id));
        });
      }
    }
  });

  test('writing dispatch tables through PostgREST (insert, update, delete) is refused and changes nothing', async () => {
    const before = await snapshot();
    for (const [who, token] of callers()) {
      const writes: [string, string, RequestInit][] = [
        [
          'insert a notification for the victim',
          'notifications',
          { method: 'POST', body: JSON.stringify({ user_id: cast.victim.id, title: 'pwned' }) },
        ],
        [
          'mark the victim read',
          `notifications?user_id=eq.${cast.victim.id}`,
          { method: 'PATCH', body: '{"read_at":"2020-01-01"}' },
        ],
        [
          'delete the victim notifications',
          `notifications?user_id=eq.${cast.victim.id}`,
          { method: 'DELETE' },
        ],
        [
          'make themself admin',
          'admins',
          { method: 'POST', body: JSON.stringify({ user_id: cast.mallory.id }) },
        ],
        [
          'set the victim counter',
          `counter_state?scope=eq.${cast.victim.id}`,
          { method: 'PATCH', body: '{"value":999}' },
        ],
        [
          'flip the victim preference',
          `preferences?user_id=eq.${cast.victim.id}`,
          { method: 'PATCH', body: '{"enabled":true}' },
        ],
        [
          'requeue a receipt',
          `receipts?id=eq.${cast.victimReceiptId}`,
          { method: 'PATCH', body: '{"status":"pending"}' },
        ],
        [
          'rewrite the counter SQL',
          'counters_def',
          { method: 'PATCH', body: '{"reconcile_sql":"select 1"}' },
        ],
      ];
      for (const [what, path, init] of writes) {
        await board.attack(`${who}: ${what}`, async () => {
          const res = await rest(path, token, {
            ...init,
            headers: {
              'content-profile': 'dispatch',
              'content-type': 'application/json',
              prefer: 'return=representation',
            },
          });
          const body = await res.text();
          assert.ok(res.status >= 400, `${who} could ${what}: ${res.status} ${body.slice(0, 200)}`);
        });
      }
    }
    assert.equal(await snapshot(), before);
  });

  test('the other internal schemas (vault, auth, realtime, net, cron, extensions) are not reachable', async () => {
    for (const [who, token] of callers()) {
      for (const [schema, table] of [
        ['vault', 'decrypted_secrets'],
        ['vault', 'secrets'],
        ['auth', 'users'],
        ['realtime', 'messages'],
        ['net', 'http_request_queue'],
        ['cron', 'job'],
        ['supabase_migrations', 'schema_migrations'],
      ]) {
        await board.attack(`${who} reads ${schema}.${table}`, async () => {
          const res = await rest(`${table}?select=*`, token, { headers: { 'accept-profile': schema } });
          const body = await res.text();
          assert.ok(res.status >= 400, `${who} read ${schema}.${table}: ${res.status} ${body.slice(0, 200)}`);
        });
      }
    }
  });

  test('the exposed schemas hold no table or view with dispatch rows, and the dispatch table names are not there', async () => {
    const { rows } = await cast.db.query<{ name: string }>(
      `select distinct v.schemaname || '.' || v.viewname as name from pg_views v
        where v.schemaname in ('public', 'graphql_public') and v.definition ~* '\\mdispatch\\.'`,
    );
    await board.attack('a view in an exposed schema reads dispatch tables', () => assert.deepEqual(rows, []));
    for (const [who, token] of callers()) {
      for (const table of tables) {
        await board.attack(`${who} reads public.${table}`, async () => {
          const res = await rest(`${table}?select=*`, token);
          const body = await res.text();
          assert.ok(res.status >= 400, `${who} read public.${table}: ${res.status} ${body.slice(0, 200)}`);
        });
      }
    }
  });

  test('client roles hold no privilege on any dispatch table, and RLS is on for every one (defence in depth)', async () => {
    const { rows } = await cast.db.query<{ grantee: string; table: string; privilege: string }>(
      `select r.rolname as grantee, c.relname as table, p.privilege
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        cross join (values ('anon'), ('authenticated')) r(rolname)
        cross join (values ('SELECT'), ('INSERT'), ('UPDATE'), ('DELETE'), ('TRUNCATE')) p(privilege)
        where n.nspname = 'dispatch' and c.relkind in ('r', 'p', 'v', 'm')
          and has_table_privilege(r.rolname, c.oid, p.privilege)`,
    );
    await board.attack('a client role has a privilege on a dispatch table', () => assert.deepEqual(rows, []));
    const { rows: open } = await cast.db.query<{ relname: string }>(
      `select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'dispatch' and c.relkind in ('r', 'p') and not c.relrowsecurity`,
    );
    await board.attack('a dispatch table without RLS', () => assert.deepEqual(open, []));
    const { rows: schemaUse } = await cast.db.query<{ has: boolean }>(
      `select has_schema_privilege('anon', 'dispatch', 'USAGE') as has`,
    );
    await board.attack('anon has USAGE on schema dispatch', () => assert.equal(schemaUse[0].has, false));
  });
});
