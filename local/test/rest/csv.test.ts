/**
 * `Accept: text/csv` as PostgREST writes it (issue 22, item 11): a header of the row's keys, then
 * each row's composite text (`row::text` without its parentheses): timestamps with a space and
 * `+00`, arrays as `{a,b}`, jsonb with its spacing, text quoted when it holds a space, comma, quote
 * or parenthesis, NULL as nothing. The expected body comes from PostgREST's own SQL
 * (Query/SqlFragment.hs asCsvF), run on the same rows.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { createRestService } from '../../src/rest/index.ts';
import { adminDbUrlOrNull, startTestStack, type TestStack } from '../support/test-stack.ts';

const skip = adminDbUrlOrNull() ? false : 'needs SUPABASE_ADMIN_DB_URL to create its table';
const table = `rt_csv_${process.pid}`;
let stack: TestStack | undefined;
let admin: pg.Client | undefined;

before(async () => {
  if (skip) return;
  admin = new pg.Client({ connectionString: adminDbUrlOrNull() as string });
  await admin.connect();
  await admin.query(`
    create table public.${table} (id int primary key, at timestamptz, day date, tags text[], doc jsonb, note text,
                                  price numeric, ok boolean);
    grant select on public.${table} to anon, service_role;
    insert into public.${table} values
      (1, '2026-12-02 05:45:31.19+00', '2026-12-02', '{a,"b c"}', '{"k": [1, 2], "s": "x y"}', 'two words', 1.50, true),
      (2, null, null, '{}', null, 'comma, "quote" (paren)', null, false),
      (3, '2026-01-01 00:00:00+00', '2026-01-01', null, '[]', '', 0, null);
    notify pgrst, 'reload schema';`);
  stack = await startTestStack({ services: [createRestService()] });
});

after(async () => {
  await stack?.stop();
  await admin?.query(`drop table if exists public.${table}`);
  await admin?.end();
});

async function postgrestCsv(select: string, where = 'true'): Promise<string> {
  const source = `select ${select} from public.${table} where ${where} order by id`;
  const { rows } = await (admin as pg.Client).query<{ body: string }>(
    `select coalesce((select string_agg(a.k, ',') from (select json_object_keys(r)::text as k
              from (select row_to_json(hh) as r from (${source}) as hh limit 1) s) a), '')
            || chr(10) || coalesce(string_agg(substring(t::text, 2, length(t::text) - 2), chr(10)), '') as body
     from (${source}) as t`,
  );
  return rows[0]?.body ?? '';
}

test('CSV bodies equal PostgREST row::text form', { skip }, async () => {
  const s = stack as TestStack;
  for (const [query, select, where] of [
    ['select=*&order=id', '*', 'true'],
    ['select=note,id,at&order=id', 'note, id, at', 'true'],
    ['select=id&id=eq.99&order=id', 'id', 'id = 99'],
  ] as const) {
    const response = await fetch(`${s.url}/rest/v1/${table}?${query}`, {
      headers: { apikey: s.anonKey, accept: 'text/csv' },
    });
    assert.equal(response.status, 200, query);
    assert.match(response.headers.get('content-type') ?? '', /^text\/csv/);
    assert.equal(await response.text(), await postgrestCsv(select, where), query);
  }
});
