import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import type { Browser, Page } from 'playwright-core';
import { type BrowserPage, chromiumMissing, startBrowserPage } from '../support/browser.ts';
import { dbPool, inTransaction, runId, type TestUser, Users } from '../support/conformance.ts';
import { missingTargetMessage, testTarget } from '../support/env.ts';

/**
 * Conformance from Chromium (Playwright with the system's Chromium; browsers are never
 * downloaded): supabase-js bundled for the browser signs in with a password and subscribes to the
 * user's private channel, gets a `realtime.send` row; another signed-in user is refused.
 * Same target as the rest of the suite (SUPABASE_URL, keys, SUPABASE_DB_URL).
 */

const target = testTarget();
const skip = !target ? missingTargetMessage : chromiumMissing();
const p = runId();

const entry = `
import { createClient } from '@supabase/supabase-js';
window.joinPrivate = async (url, anonKey, email, password, topic) => {
  const supabase = createClient(url, anonKey, { auth: { persistSession: false, autoRefreshToken: false } });
  const signed = await supabase.auth.signInWithPassword({ email, password });
  if (signed.error) return 'SIGN_IN_ERROR: ' + signed.error.message;
  await supabase.realtime.setAuth(signed.data.session.access_token);
  window.received = [];
  return await new Promise((resolve) => {
    const timer = setTimeout(() => resolve('NO_ANSWER after 10 s'), 10000);
    supabase
      .channel(topic, { config: { private: true } })
      .on('broadcast', { event: '*' }, (m) => window.received.push({ event: m.event, payload: m.payload }))
      .subscribe((status, err) => {
        if (status === 'CLOSED') return;
        clearTimeout(timer);
        resolve(status === 'SUBSCRIBED' ? status : status + ': ' + (err ? err.message : ''));
      });
  });
};
// REST from a page on another origin: CORS preflights, the session's JWT and RLS, as an app does.
window.restRoundTrip = async (url, anonKey, email, password, table, note) => {
  const supabase = createClient(url, anonKey, { auth: { persistSession: false, autoRefreshToken: false } });
  const signed = await supabase.auth.signInWithPassword({ email, password });
  if (signed.error) return { error: 'SIGN_IN_ERROR: ' + signed.error.message };
  const inserted = await supabase.from(table).insert({ note }).select('note').single();
  if (inserted.error) return { error: 'INSERT_ERROR: ' + inserted.error.message };
  const listed = await supabase.from(table).select('note').order('id');
  if (listed.error) return { error: 'SELECT_ERROR: ' + listed.error.message };
  return { inserted: inserted.data.note, notes: listed.data.map((r) => r.note) };
};
`;

type Win = {
  joinPrivate: (...a: string[]) => Promise<string>;
  restRoundTrip: (...a: string[]) => Promise<{ error?: string; inserted?: string; notes?: string[] }>;
  received?: { event: string; payload: Record<string, unknown> }[];
};

describe('conformance: Chromium', { skip }, () => {
  if (skip || !target) return;
  const users = new Users(target, p);
  const policy = `${p} browser read own topic`;
  const notes = `${p}_browser_notes`;
  let db: pg.Pool;
  let browserPage: BrowserPage;
  let browser: Browser;
  let pageUrl = '';
  let alice: TestUser;
  let bob: TestUser;

  const join = async (page: Page, user: TestUser, topic: string): Promise<string> => {
    await page.goto(pageUrl);
    await page.waitForFunction(() => typeof (window as never as Win).joinPrivate === 'function', null, {
      timeout: 10_000,
    });
    return page.evaluate(
      ([url, key, email, password, t]) => (window as never as Win).joinPrivate(url, key, email, password, t),
      [target.url, target.anonKey, user.email, user.password, topic],
    );
  };

  before(async () => {
    db = dbPool(target);
    [alice, bob] = await Promise.all([users.create('alice'), users.create('bob')]);
    await db.query(`create policy "${policy}" on realtime.messages for select to authenticated
      using (realtime.topic() = '${p}:user:' || (select auth.uid())::text)`);
    await db.query(`
      create table public.${notes} (
        id bigint generated always as identity primary key,
        owner uuid not null default auth.uid(),
        note text not null
      );
      alter table public.${notes} enable row level security;
      create policy own_notes on public.${notes} for all to authenticated
        using (owner = (select auth.uid())) with check (owner = (select auth.uid()));
      grant select, insert on public.${notes} to authenticated;
      notify pgrst, 'reload schema';`);
    browserPage = await startBrowserPage(entry);
    browser = browserPage.browser;
    pageUrl = browserPage.pageUrl;
  });

  after(async () => {
    await browserPage?.close();
    await db?.query(`drop policy if exists "${policy}" on realtime.messages`).catch(() => {});
    await db?.query(`drop table if exists public.${notes}`).catch(() => {});
    await db?.end();
    await users.cleanup();
  });

  test('signed-in owner receives realtime.send rows on the private channel; another user is refused', async () => {
    const topic = `${p}:user:${alice.id}`;
    const page = await browser.newPage();
    const other = await browser.newPage();
    try {
      assert.equal(await join(page, alice, topic), 'SUBSCRIBED');
      await inTransaction(db, (c) =>
        c.query(`select realtime.send('{"from":"db"}'::jsonb, 'notification', $1, true)`, [topic]),
      );
      await page.waitForFunction(() => ((window as never as Win).received ?? []).length > 0, null, {
        timeout: 10_000,
      });
      const received = await page.evaluate(() => (window as never as Win).received ?? []);
      assert.equal(received.length, 1);
      assert.equal(received[0].event, 'notification');
      assert.equal(received[0].payload.from, 'db');

      assert.match(await join(other, bob, topic), /^CHANNEL_ERROR: .*Unauthorized/);
    } finally {
      await page.close();
      await other.close();
    }
  });

  test("REST from another origin: CORS, the signed-in user's JWT and RLS", async () => {
    const page = await browser.newPage();
    try {
      await page.goto(pageUrl);
      await page.waitForFunction(() => typeof (window as never as Win).restRoundTrip === 'function', null, {
        timeout: 10_000,
      });
      const roundTrip = (user: TestUser, note: string) =>
        page.evaluate(
          ([url, key, email, password, table, n]) =>
            (window as never as Win).restRoundTrip(url, key, email, password, table, n),
          [target.url, target.anonKey, user.email, user.password, notes, note],
        );
      assert.deepEqual(await roundTrip(alice, 'alice 1'), { inserted: 'alice 1', notes: ['alice 1'] });
      assert.deepEqual(await roundTrip(bob, 'bob 1'), { inserted: 'bob 1', notes: ['bob 1'] });
      assert.deepEqual(await roundTrip(alice, 'alice 2'), {
        inserted: 'alice 2',
        notes: ['alice 1', 'alice 2'],
      });
    } finally {
      await page.close();
    }
  });
});
