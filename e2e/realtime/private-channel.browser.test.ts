import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import pg from 'pg';
import type { Browser } from 'playwright-core';
import { createRealtimeService } from '../../local/src/realtime/index.ts';
import { type BrowserPage, chromiumMissing, startBrowserPage } from '../../local/test/support/browser.ts';
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

const skip = !adminDbUrlOrNull() ? missingAdminDbMessage : chromiumMissing();

let stack: TestStack;
let admin: pg.Pool;
let browserPage: BrowserPage;
let browser: Browser;
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
  browserPage = await startBrowserPage(entry);
  browser = browserPage.browser;
  pageUrl = browserPage.pageUrl;
});

after(async () => {
  await browserPage?.close();
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
