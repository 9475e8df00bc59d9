/**
 * pg_net stand-in end to end: requests made with net.http_* as `postgres` reach a local HTTP
 * server once their transaction commits, and net._http_response records the outcome; a rolled
 * back request is never sent. Local stack only (a hosted pg_net cannot reach 127.0.0.1 here).
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { createNetSender } from '../../src/db/net-sender.ts';
import {
  adminDbUrlOrNull,
  missingAdminDbMessage,
  startTestStack,
  type TestStack,
} from '../support/test-stack.ts';

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

const enabled = adminDbUrlOrNull() !== null;
let stack: TestStack | undefined;
let server: Server | undefined;
let base = '';
let db: pg.Client | undefined;
const received: Received[] = [];
const sender = createNetSender({ pollIntervalMs: 500 });
const run = Math.random().toString(36).slice(2, 10);

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

before(async () => {
  if (!enabled) return;
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      });
      if (req.url?.startsWith('/hang')) return; // never answers: the timeout test
      res.writeHead(201, { 'content-type': 'application/json', 'x-probe': 'yes' });
      res.end(JSON.stringify({ ok: true, path: req.url }));
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  stack = await startTestStack({ services: [sender] });
  db = new pg.Client({ connectionString: stack.dbUrl });
  await db.connect();
});

after(async () => {
  await db?.end();
  await stack?.stop();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

async function response(id: string): Promise<Record<string, unknown> | undefined> {
  const { rows } = await (db as pg.Client).query('select * from net._http_response where id = $1', [id]);
  return rows[0];
}

test('a committed net.http_post reaches the server and records the response', async (t) => {
  if (!enabled || !db) return t.skip(missingAdminDbMessage);
  const path = `/hook/${run}/commit`;
  const { rows } = await db.query(
    `select net.http_post(url := $1, body := '{"hello":"world"}'::jsonb, params := '{"q":"a b"}'::jsonb,
       headers := '{"Content-Type":"application/json","Authorization":"Bearer t"}'::jsonb) as id`,
    [`${base}${path}`],
  );
  const id = String(rows[0].id);
  const got = await waitFor('the request', () => received.find((r) => r.url.startsWith(path)));
  assert.equal(got.method, 'POST');
  assert.equal(got.url, `${path}?q=a%20b`);
  assert.equal(got.headers.authorization, 'Bearer t');
  assert.equal(got.headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse(got.body), { hello: 'world' });
  const res = await waitFor('net._http_response', () => response(id));
  assert.equal(res.status_code, 201);
  assert.equal(res.content_type, 'application/json');
  assert.equal(res.timed_out, false);
  assert.equal(res.error_msg, null);
  assert.equal((res.headers as Record<string, string>)['x-probe'], 'yes');
  assert.deepEqual(JSON.parse(String(res.content)), { ok: true, path: `${path}?q=a%20b` });
});

test('a rolled-back net.http_post is never sent', async (t) => {
  if (!enabled || !db) return t.skip(missingAdminDbMessage);
  const rolledBack = `/hook/${run}/rollback`;
  const marker = `/hook/${run}/after-rollback`;
  await db.query('begin');
  await db.query('select net.http_post($1)', [`${base}${rolledBack}`]);
  await db.query('rollback');
  // Requests are sent in id order per batch; once a later committed request has arrived, the
  // rolled-back one would have too.
  await db.query('select net.http_get($1)', [`${base}${marker}`]);
  await waitFor('the marker request', () => received.find((r) => r.url === marker));
  assert.equal(
    received.some((r) => r.url === rolledBack),
    false,
  );
});

test('requests wait for COMMIT, and http_get / http_delete work', async (t) => {
  if (!enabled || !db) return t.skip(missingAdminDbMessage);
  const getPath = `/hook/${run}/get`;
  const delPath = `/hook/${run}/delete`;
  await db.query('begin');
  await db.query(`select net.http_get($1, '{"x":"1"}'::jsonb)`, [`${base}${getPath}`]);
  await db.query(`select net.http_delete($1, body := '{"d":true}'::jsonb)`, [`${base}${delPath}`]);
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(
    received.some((r) => r.url.startsWith(getPath)),
    false,
    'nothing is sent before commit',
  );
  await db.query('commit');
  const get = await waitFor('GET', () => received.find((r) => r.url.startsWith(getPath)));
  assert.equal(get.method, 'GET');
  assert.equal(get.url, `${getPath}?x=1`);
  const del = await waitFor('DELETE', () => received.find((r) => r.url === delPath));
  assert.equal(del.method, 'DELETE');
  assert.deepEqual(JSON.parse(del.body), { d: true });
});

test('a request past its timeout is recorded as timed out', async (t) => {
  if (!enabled || !db) return t.skip(missingAdminDbMessage);
  const { rows } = await db.query('select net.http_get($1, timeout_milliseconds := 200) as id', [
    `${base}/hang/${run}`,
  ]);
  const res = await waitFor('the timed-out response', () => response(String(rows[0].id)));
  assert.equal(res.timed_out, true);
  assert.equal(res.status_code, null);
  assert.match(String(res.error_msg), /Timeout/);
});

test('requests queued while the sender is down are sent when it starts again', async (t) => {
  if (!enabled || !db || !stack) return t.skip(missingAdminDbMessage);
  await sender.stop();
  const path = `/hook/${run}/while-down`;
  const { rows } = await db.query('select net.http_post($1) as id', [`${base}${path}`]);
  await sender.start(stack.ctx);
  await waitFor('the queued request', () => received.find((r) => r.url === path));
  const res = await waitFor('its response', () => response(String(rows[0].id)));
  assert.equal(res.status_code, 201);
});
