import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { build } from 'esbuild';
import pg from 'pg';
import { type Browser, chromium } from 'playwright-core';
import { repoRoot } from '../../local/src/paths.ts';
import { createRealtimeService } from '../../local/src/realtime/index.ts';
import {
  adminDbUrlOrNull,
  missingAdminDbMessage,
  startTestStack,
  type TestStack,
} from '../../local/test/support/test-stack.ts';

/**
 * supabase-js, bundled for the browser with esbuild, in Chromium (Playwright, the system's
 * /usr/bin/chromium; browsers are never downloaded): a signed-in user subscribes to their private
 * channel and receives a `realtime.send` row; another user is refused.
 */

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const skip = !adminDbUrlOrNull()
  ? missingAdminDbMessage
  : !existsSync(chromiumPath)
    ? `no Chromium at ${chromiumPath} (set CHROMIUM_PATH)`
    : false;

let stack: TestStack;
let admin: pg.Pool;
let browser: Browser;
let pageServer: Server;
let pageUrl = '';

const entry = `
import { createClient } from '@supabase/supabase-js';
window.subscribePrivate = async (url, anonKey, token, topic) => {
  const supabase = createClient(url, anonKey, { accessToken: async () => token });
  await supabase.realtime.setAuth();
  window.received = [];
  return await new Promise((resolve) => {
    supabase
      .channel(topic, { config: { private: true } })
      .on('broadcast', { event: '*' }, (m) => window.received.push({ event: m.event, payload: m.payload, meta: m.meta }))
      .subscribe((status, err) => {
        if (status === 'SUBSCRIBED') resolve('SUBSCRIBED');
        else if (status !== 'CLOSED') resolve(status + ': ' + (err ? err.message : ''));
      });
  });
};
`;

before(async () => {
  if (skip) return;
  const service = createRealtimeService();
  stack = await startTestStack({ services: [service] });
  await service.ready();
  admin = new pg.Pool({ connectionString: stack.adminDbUrl, max: 2 });
  await admin.query(`
    drop policy if exists "e2e browser topic read" on realtime.messages;
    create policy "e2e browser topic read" on realtime.messages for select to authenticated
      using (realtime.topic() = 'e2e:user:' || (select auth.uid())::text);
  `);
  const bundle = await build({
    stdin: { contents: entry, resolveDir: repoRoot, loader: 'js' },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    write: false,
    logLevel: 'silent',
  });
  const script = bundle.outputFiles[0].text;
  pageServer = createServer((req, res) => {
    if (req.url === '/app.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(script);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><html><body><script src="/app.js"></script></body></html>');
  });
  await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', () => resolve()));
  const address = pageServer.address();
  pageUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`;
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
});

after(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (pageServer ? pageServer.close(() => resolve()) : resolve()));
  await admin?.end();
  await stack?.stop();
});

test('Chromium: a private channel receives realtime.send rows; another user is refused', {
  skip,
}, async () => {
  const owner = randomUUID();
  const topic = `e2e:user:${owner}`;
  const page = await browser.newPage();
  try {
    await page.goto(pageUrl);
    await page.waitForFunction(
      () => typeof (window as never as { subscribePrivate?: unknown }).subscribePrivate === 'function',
      null,
      {
        timeout: 10_000,
      },
    );
    const status = await page.evaluate(
      ([url, key, token, t]) =>
        (window as never as { subscribePrivate: (...a: string[]) => Promise<string> }).subscribePrivate(
          url,
          key,
          token,
          t,
        ),
      [stack.url, stack.anonKey, stack.signUserToken(owner), topic],
    );
    assert.equal(status, 'SUBSCRIBED');
    await admin.query(`select realtime.send('{"from":"db"}'::jsonb, 'notification', $1)`, [topic]);
    await page.waitForFunction(
      () => ((window as never as { received: unknown[] }).received ?? []).length > 0,
      null,
      {
        timeout: 10_000,
      },
    );
    const received = await page.evaluate(
      () =>
        (
          window as never as {
            received: { event: string; payload: Record<string, unknown>; meta?: { id: string } }[];
          }
        ).received,
    );
    assert.equal(received.length, 1);
    assert.equal(received[0].event, 'notification');
    assert.equal(received[0].payload.from, 'db');
    assert.equal(received[0].meta?.id, received[0].payload.id);

    const other = await browser.newPage();
    try {
      await other.goto(pageUrl);
      await other.waitForFunction(
        () => typeof (window as never as { subscribePrivate?: unknown }).subscribePrivate === 'function',
        null,
        {
          timeout: 10_000,
        },
      );
      const refused = await other.evaluate(
        ([url, key, token, t]) =>
          (window as never as { subscribePrivate: (...a: string[]) => Promise<string> }).subscribePrivate(
            url,
            key,
            token,
            t,
          ),
        [stack.url, stack.anonKey, stack.signUserToken(randomUUID()), topic],
      );
      assert.match(
        refused,
        /^CHANNEL_ERROR: Unauthorized: You do not have permissions to read from this Channel topic/,
      );
    } finally {
      await other.close();
    }
  } finally {
    await page.close();
  }
});
