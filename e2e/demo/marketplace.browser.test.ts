/**
 * The demo marketplace end to end (issue 19): real Chromium (playwright-core, /usr/bin/chromium),
 * the demo's Vite dev server against the test stack, three browser contexts signed in at once
 * (a buyer, a seller, an admin), the real functions, worker, mail catcher and webhook sink.
 *  1. an order moves the seller's bell and the admin's pending_orders live; email; signed webhook
 *  2. shipping: in-app at once, the email after its delay
 *  3. read state follows the user across tabs
 *  4. an opted-out event: a skipped receipt, no email
 *  5. admin: preview from sample data (no receipt, no email), test-send to self, manual trigger
 *  6. password reset through the Auth hook, in the browser
 *  7. offline, then online: the counts are right again
 *  8. a non-admin cannot preview or trigger: the server refuses
 * Screenshots go to .supadispatch/e2e-demo-screenshots/ (UPDATE_SCREENSHOTS=1: docs/screenshots/).
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { repoRoot } from '../../local/src/paths.ts';
import { chromiumMissing, chromiumPath } from '../../local/test/support/browser.ts';
import { midRunPort, midRunSlots } from '../../local/test/support/mid-run-ports.ts';
import { type DemoServer, startDemoServer } from '../../scripts/demo-server.ts';
import { verifyWebhook } from '../../sdk/src/webhooks/index.ts';
import {
  dbPool,
  demoMissing,
  env,
  type FreshUser,
  freshUser,
  mailTo,
  signIn,
  sinkRequests,
  waitFor,
} from './support.ts';

const skip = chromiumMissing() || (await demoMissing());

/** The demo's port: DEMO_E2E_PORT, or one above the ephemeral range (see mid-run-ports.ts). */
const demoPort = Number(process.env.DEMO_E2E_PORT || midRunPort(midRunSlots.demoServer));
const shotsDir =
  process.env.UPDATE_SCREENSHOTS === '1'
    ? join(repoRoot, 'docs', 'screenshots')
    : join(repoRoot, '.supadispatch', 'e2e-demo-screenshots');

describe('demo marketplace in Chromium (three users at once)', { skip }, () => {
  let server: DemoServer;
  let browser: Browser;
  let db: pg.Pool;
  let buyerUser: FreshUser;
  let sellerUser: FreshUser;
  const admin = { email: 'admin@demo-market.test', password: 'demopass' };
  let productName: string;
  let buyerCtx: BrowserContext;
  let sellerCtx: BrowserContext;
  let adminCtx: BrowserContext;
  let buyer: Page;
  let seller: Page;
  let adminPage: Page;

  const shot = async (page: Page, name: string, fullPage = false) => {
    await page.screenshot({ path: join(shotsDir, `${name}.png`), fullPage });
  };
  const counter = async (page: Page, name: string) => {
    const text = await page.locator(`[data-counter="${name}"]`).first().textContent();
    return Number(text?.trim());
  };
  const waitCounter = (page: Page, name: string, expected: () => Promise<number> | number, label: string) =>
    waitFor(label, async () => {
      const want = await expected();
      return (await counter(page, name).catch(() => Number.NaN)) === want ? want : false;
    });
  /** The bell's unread count, from its accessible name ("Notifications, 3 unread" / "none unread"). */
  const bellCount = async (page: Page) => {
    const name = (await bell(page).getAttribute('aria-label')) ?? '';
    if (/none unread/.test(name)) return 0;
    const m = /Notifications, (\d+) unread/.exec(name);
    return m ? Number(m[1]) : Number.NaN;
  };
  const bell = (page: Page) => page.getByRole('button', { name: /^Notifications,/ });
  const waitBell = (page: Page, expected: number, label: string) =>
    waitFor(label, async () => ((await bellCount(page)) === expected ? true : false));
  const unreadOf = async (userId: string) =>
    Number(
      (
        await db.query(
          'select count(*)::int as n from dispatch.notifications where user_id = $1 and read_at is null',
          [userId],
        )
      ).rows[0].n,
    );
  /** A marker that a reload would wipe: proves a change arrived live. */
  const markNoReload = (page: Page) =>
    page.evaluate(() => ((window as never as { __live: number }).__live = 1));
  const notReloaded = (page: Page) =>
    page.evaluate(() => (window as never as { __live?: number }).__live === 1);

  async function signInUi(context: BrowserContext, email: string, password: string): Promise<Page> {
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    await page.goto(`${server.url}/signin`, { timeout: 60_000 });
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    try {
      // the first navigation after sign-in may wait for the dev server to transform the next page
      await page.waitForURL((url) => !url.pathname.startsWith('/signin'), { timeout: 90_000 });
    } catch (error) {
      // say what the page shows (an auth error, a spinner) rather than only that it did not move
      const shown = (
        await page
          .locator('main, body')
          .first()
          .textContent()
          .catch(() => '')
      )?.slice(0, 500);
      throw new Error(
        `sign-in of ${email} did not leave /signin: ${(error as Error).message}\npage shows: ${shown}`,
      );
    }
    return page;
  }
  const live = (page: Page) => page.getByText('Live', { exact: true }).waitFor({ timeout: 30_000 });

  before(async () => {
    mkdirSync(shotsDir, { recursive: true });
    db = dbPool();
    [buyerUser, sellerUser] = await Promise.all([
      freshUser('Nora Buyer', 'buyer', 'north'),
      freshUser('Vase Studio', 'seller', 'north'),
    ]);
    productName = `Handmade vase ${sellerUser.id.slice(0, 4)}`;
    const sellerApi = await signIn(sellerUser.email, sellerUser.password);
    const made = await sellerApi
      .from('products')
      .insert({ seller_id: sellerUser.id, name: productName, price_cents: 6400 })
      .select('id')
      .single();
    assert.equal(made.error, null, made.error?.message);
    await sellerApi.auth.signOut();

    server = await startDemoServer({
      supabaseUrl: env.url,
      anonKey: env.anonKey,
      port: demoPort,
      output: process.env.SUPADISPATCH_TEST_LOG === '1' ? 'inherit' : 'ignore',
    });
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    // The dev server transforms the app's modules on the first load: one page pays for it first.
    const warm = await browser.newPage();
    await warm.goto(`${server.url}/signin`, { timeout: 180_000 });
    await warm.getByRole('button', { name: 'Sign in' }).waitFor({ timeout: 60_000 });
    await warm.close();
    const viewport = { width: 1280, height: 800 };
    [buyerCtx, sellerCtx, adminCtx] = await Promise.all([
      browser.newContext({ viewport }),
      browser.newContext({ viewport }),
      browser.newContext({ viewport }),
    ]);
    buyer = await signInUi(buyerCtx, buyerUser.email, buyerUser.password);
    seller = await signInUi(sellerCtx, sellerUser.email, sellerUser.password);
    adminPage = await signInUi(adminCtx, admin.email, admin.password);
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    await db?.end();
  });

  let orderId = '';
  let orderNumber = 0;

  test('1. a buyer orders: the seller’s bell and the admin’s pending_orders move live; email; signed webhook', async () => {
    await seller.goto(`${server.url}/seller`);
    await adminPage.goto(`${server.url}/admin/counters`);
    await buyer.goto(`${server.url}/shop`);
    await Promise.all([live(seller), live(adminPage), live(buyer)]);
    await waitBell(seller, await unreadOf(sellerUser.id), 'the seller’s bell at rest');
    const sellerUnread = await bellCount(seller);
    await markNoReload(seller);
    await markNoReload(adminPage);

    await buyer.getByRole('button', { name: `Order ${productName}` }).click();
    const placed = await waitFor('the order in the table', async () => {
      const { rows } = await db.query<{ id: string; number: string }>(
        'select id, number from public.orders where buyer_id = $1 order by created_at desc limit 1',
        [buyerUser.id],
      );
      return rows[0];
    });
    orderId = placed.id;
    orderNumber = Number(placed.number);

    await waitBell(seller, sellerUnread + 1, 'the seller’s bell + 1');
    await waitCounter(seller, 'seller_open_orders', () => 1, 'seller_open_orders on the dashboard');
    await waitCounter(
      adminPage,
      'pending_orders',
      async () =>
        Number(
          (await db.query(`select count(*)::int as n from public.orders where status = 'pending'`)).rows[0].n,
        ),
      'the admin’s pending_orders = the pending orders',
    );
    assert.equal(await notReloaded(seller), true, 'the seller page was not reloaded');
    assert.equal(await notReloaded(adminPage), true, 'the admin page was not reloaded');
    await waitCounter(buyer, 'my_open_orders', () => 1, 'the buyer’s my_open_orders');

    await seller.getByRole('row', { name: new RegExp(`#${orderNumber}`) }).waitFor();
    await shot(buyer, 'shop');
    await shot(adminPage, 'admin-counters');
    await bell(seller).click();
    await seller.getByText(`New order #${orderNumber}`).first().waitFor();
    await shot(seller, 'seller-dashboard-bell');
    await seller.keyboard.press('Escape');

    await waitFor('the confirmation email', async () =>
      (await mailTo(buyerUser.email)).find((m) => m.subject === `Order #${orderNumber} received`),
    );
    const hook = await waitFor('the webhook in the sink', async () =>
      (await sinkRequests('/orders')).find((r) => r.json?.data?.orderId === orderId),
    );
    assert.equal(hook.signatureValid, true);
    const verified = verifyWebhook(hook.body, hook.headers, env.webhookSecret);
    assert.equal(verified.error, null, verified.error?.message);
  });

  test('2. the seller ships: the buyer’s in-app notification at once, the email after the delay', async () => {
    assert.ok(orderId, 'scenario 1 placed an order');
    await buyer.goto(`${server.url}/orders`);
    await live(buyer);
    const before = await bellCount(buyer);
    await markNoReload(buyer);
    await seller
      .getByRole('row', { name: new RegExp(`#${orderNumber}`) })
      .getByRole('button', { name: 'Ship' })
      .click();
    await waitBell(buyer, before + 1, 'the buyer’s bell + 1');
    assert.equal(await notReloaded(buyer), true);
    await bell(buyer).click();
    await buyer.getByText(`Order #${orderNumber} shipped`).first().waitFor();
    await shot(buyer, 'buyer-orders-inbox');
    await buyer.keyboard.press('Escape');
    await waitCounter(buyer, 'my_open_orders', () => 0, 'my_open_orders drops to 0');

    // The in-app receipt is sent; the email is scheduled 5 s later and goes out then (or at the next
    // tick where pg_cron cannot run it every few seconds), never before.
    const email = await waitFor(
      'the shipped email',
      async () =>
        (await mailTo(buyerUser.email)).find((m) => m.subject === `Order #${orderNumber} has shipped`),
      90_000,
    );
    assert.ok(email);
    // the worker records a send's outcome just after the send (in groups): the mail can be in the
    // catcher a moment before its receipt says sent
    const rows = await waitFor(
      'the shipped email recorded as sent',
      async () => {
        const { rows } = await db.query<{ channel: string; created_at: Date; sent_at: Date | null }>(
          `select r.channel, r.created_at, r.sent_at from dispatch.receipts r join dispatch.occurrences o on o.id = r.occurrence_id
           where r.event_id = 'order.shipped' and o.new_record ->> 'id' = $1`,
          [orderId],
        );
        return rows.length === 2 && rows.every((r) => r.sent_at !== null) ? rows : undefined;
      },
      30_000,
    );
    const byChannel = Object.fromEntries(
      rows.map((r) => [r.channel, r as { created_at: Date; sent_at: Date }]),
    );
    assert.ok(
      byChannel['email:buyer'].sent_at.getTime() >= byChannel['email:buyer'].created_at.getTime() + 5_000,
    );
    assert.ok(byChannel['in_app:buyer'].sent_at.getTime() < byChannel['email:buyer'].sent_at.getTime());
  });

  test('3. read state follows the user across tabs', async () => {
    const second = await buyerCtx.newPage();
    await second.goto(`${server.url}/shop`);
    await Promise.all([live(buyer), live(second)]);
    const unread = await unreadOf(buyerUser.id);
    assert.ok(unread > 0, 'the buyer has something unread');
    await Promise.all([waitBell(buyer, unread, 'tab 1 badge'), waitBell(second, unread, 'tab 2 badge')]);
    await bell(buyer).click();
    await buyer.getByRole('button', { name: 'Mark all read' }).click();
    await waitBell(second, 0, 'the other tab’s badge clears');
    await waitBell(buyer, 0, 'this tab’s badge clears');
    assert.equal(await unreadOf(buyerUser.id), 0);
    await buyer.keyboard.press('Escape');
    await second.close();
  });

  test('4. an opted-out event: a skipped receipt and no email', async () => {
    await buyer.goto(`${server.url}/preferences`);
    const email = buyer.getByRole('checkbox', { name: /^Email for order\.cancelled$/ });
    await email.waitFor();
    assert.equal(await email.isChecked(), true);
    // A controlled switch: it turns off once the server stored the preference.
    await email.click();
    await waitFor('the switch off', async () => !(await email.isChecked()));
    await waitFor('the preference stored', async () => {
      const { rows } = await db.query(
        `select enabled from dispatch.preferences where user_id = $1 and event_id = 'order.cancelled' and transport = 'email'`,
        [buyerUser.id],
      );
      return rows[0]?.enabled === false;
    });
    await shot(buyer, 'preferences');

    await buyer.goto(`${server.url}/shop`);
    await buyer.getByRole('button', { name: `Order ${productName}` }).click();
    const order = await waitFor('the second order', async () => {
      const { rows } = await db.query<{ id: string; number: string }>(
        `select id, number from public.orders where buyer_id = $1 and status = 'pending' order by created_at desc limit 1`,
        [buyerUser.id],
      );
      return rows[0];
    });
    await seller.goto(`${server.url}/seller`);
    await seller
      .getByRole('row', { name: new RegExp(`#${order.number}`) })
      .getByRole('button', { name: 'Cancel' })
      .click();
    const receipts = await waitFor('order.cancelled receipts settled', async () => {
      const { rows } = await db.query<{ channel: string; status: string }>(
        `select r.channel, r.status from dispatch.receipts r join dispatch.occurrences o on o.id = r.occurrence_id
         where r.event_id = 'order.cancelled' and o.new_record ->> 'id' = $1`,
        [order.id],
      );
      return rows.length === 3 && rows.every((r) => r.status === 'sent' || r.status === 'skipped')
        ? rows
        : false;
    });
    assert.equal(receipts.find((r) => r.channel === 'email:buyer')?.status, 'skipped');
    assert.equal(receipts.find((r) => r.channel === 'in_app:buyer')?.status, 'sent');
    const mails = await mailTo(buyerUser.email);
    assert.equal(mails.filter((m) => m.subject === `Order #${order.number} was cancelled`).length, 0);

    // The admin sees the skipped receipt.
    await adminPage.goto(`${server.url}/admin/receipts`);
    await adminPage
      .getByLabel(/^Event/)
      .first()
      .selectOption('order.cancelled');
    await adminPage.locator('tr[data-status="skipped"]').first().waitFor();
    await shot(adminPage, 'admin-receipts');
  });

  test('5. admin: preview from sample data (no receipt, no email), test-send to self, manual trigger', async () => {
    const totals = async () => {
      const { rows } = await db.query(
        `select (select count(*) from dispatch.receipts)::int as receipts, (select count(*) from dispatch.occurrences)::int as occurrences`,
      );
      return rows[0] as { receipts: number; occurrences: number };
    };
    const allMail = async () =>
      (await (await fetch(`${env.mailUrl}/api/messages`)).json()) as { to: string[]; subject: string }[];

    await adminPage.goto(`${server.url}/admin/events`);
    await adminPage
      .getByRole('list', { name: 'Events' })
      .getByRole('button', { name: /auth\.password_reset/ })
      .click();
    await adminPage.getByRole('radio', { name: 'Sample data' }).check();
    const beforePreview = await totals();
    const mailBefore = (await allMail()).length;
    await adminPage.getByRole('button', { name: 'Preview' }).click();
    const preview = adminPage.getByTestId('preview');
    await preview
      .getByText(/Reset your Demo Market password/)
      .first()
      .waitFor();
    await preview
      .locator('iframe')
      .first()
      .waitFor()
      .catch(() => {});
    await shot(adminPage, 'admin-event-preview', true);
    // Other suites write meanwhile: nothing of this event, and no mail at all from a preview.
    const { rows: resetReceipts } = await db.query(
      `select count(*)::int as n from dispatch.receipts where event_id = 'auth.password_reset' and address = 'ada@example.test'`,
    );
    assert.equal(resetReceipts[0].n, 0, 'a preview writes no receipt');
    assert.equal((await mailTo('ada@example.test')).length, 0, 'a preview sends nothing');
    assert.ok((await totals()).receipts >= beforePreview.receipts);

    await adminPage.getByRole('button', { name: 'Send test to me' }).click();
    await adminPage.getByText(/Test email sent to/).waitFor();
    const test = await waitFor('the test email', async () =>
      (await mailTo(admin.email)).find((m) => m.subject === '[Test] Reset your Demo Market password'),
    );
    assert.deepEqual(test.to, [admin.email], 'to the admin’s own address only');
    const newMail = (await allMail()).slice(mailBefore).filter((m) => m.subject.startsWith('[Test]'));
    assert.deepEqual(
      newMail.map((m) => m.to),
      [[admin.email]],
      'one test email, to the admin only',
    );

    await adminPage.goto(`${server.url}/admin/trigger`);
    await adminPage.getByLabel('Event').selectOption('order.created');
    // The label's text runs on into its select's options: "Order", then "Choose an order", ...
    const picker = adminPage.getByLabel(/^Order/);
    await picker.waitFor();
    await picker.selectOption({ value: orderId });
    await adminPage.getByRole('button', { name: 'Trigger' }).click();
    const result = adminPage.getByRole('region', { name: 'Trigger result' });
    await result.getByText('email:buyer').first().waitFor();
    await result.getByText('in_app:seller').first().waitFor();
    await shot(adminPage, 'admin-trigger');
    const { rows } = await db.query<{ n: number }>(
      `select count(*)::int as n from dispatch.occurrences o
       where o.event_id = 'order.created' and o.new_record ->> 'id' = $1 and o.actor = 'd0000000-0000-4000-8000-000000000001'`,
      [orderId],
    );
    assert.equal(rows[0].n, 1, 'the manual occurrence, with the admin as actor');
  });

  test('6. password reset through the Auth hook delivers a working link', async () => {
    const user = await freshUser('Reset Me', 'buyer', 'south');
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const page = await ctx.newPage();
      await page.goto(`${server.url}/forgot`);
      await page.getByLabel('Email').fill(user.email);
      await page.getByRole('button', { name: 'Send reset link' }).click();
      await page.getByText(/on its way/).waitFor();
      const mail = await waitFor('the reset email', async () =>
        (await mailTo(user.email)).find((m) => m.subject === 'Reset your Demo Market password'),
      );
      const link = /https?:\/\/[^\s"<]+\/auth\/v1\/verify\?[^\s"<]+/.exec(mail.text)?.[0];
      assert.ok(link, mail.text);
      await page.goto(link);
      await page.waitForURL(/\/reset/);
      await page.getByLabel('New password', { exact: true }).fill('a-new-password-1');
      await page.getByLabel('Repeat the new password').fill('a-new-password-1');
      await shot(page, 'reset-password');
      await page.getByRole('button', { name: 'Save new password' }).click();
      await waitFor('the new password works', async () => {
        try {
          await signIn(user.email, 'a-new-password-1');
          return true;
        } catch {
          return false;
        }
      });
    } finally {
      await ctx.close();
    }
  });

  test('7. offline, then online: the counts are right again', async () => {
    await buyer.goto(`${server.url}/shop`);
    await live(buyer);
    await buyer.getByRole('button', { name: `Order ${productName}` }).click();
    const order = await waitFor('a third order', async () => {
      const { rows } = await db.query<{ id: string }>(
        `select id from public.orders where buyer_id = $1 and status = 'pending' order by created_at desc limit 1`,
        [buyerUser.id],
      );
      return rows[0];
    });
    await waitCounter(buyer, 'my_open_orders', () => 1, 'one open order');
    await buyerCtx.setOffline(true);
    await buyer
      .getByText(/offline|reconnecting/i)
      .first()
      .waitFor({ timeout: 30_000 });
    // While the buyer is offline, the seller ships the order: the count falls, a notification comes.
    const sellerApi = await signIn(sellerUser.email, sellerUser.password);
    const shipped = await sellerApi
      .from('orders')
      .update({ status: 'shipped' })
      .eq('id', order.id)
      .select('id');
    assert.equal(shipped.data?.length, 1);
    await sellerApi.auth.signOut();
    await waitFor('the change processed', async () => {
      const { rows } = await db.query(
        `select count(*)::int as n from dispatch.notifications where user_id = $1 and event_id = 'order.shipped'`,
        [buyerUser.id],
      );
      return rows[0].n >= 2;
    });
    await buyerCtx.setOffline(false);
    await waitCounter(buyer, 'my_open_orders', () => 0, 'my_open_orders back in step');
    await waitBell(buyer, await unreadOf(buyerUser.id), 'the bell back in step');
    await live(buyer);
  });

  test('8. a non-admin cannot open preview or trigger: the server refuses', async () => {
    await buyer.goto(`${server.url}/admin/events`);
    await buyer.getByText(/for administrators/i).waitFor();
    await shot(buyer, 'non-admin-refused');
    // As a string: the test's TypeScript transform would wrap named functions with a helper the
    // page does not have.
    const answers = (await buyer.evaluate(`(async () => {
      const key = Object.keys(localStorage).find((k) => k.endsWith('-auth-token'));
      const token = key ? JSON.parse(localStorage.getItem(key) || '{}').access_token : '';
      const headers = { 'content-type': 'application/json', apikey: ${JSON.stringify(env.anonKey)}, authorization: 'Bearer ' + token };
      const post = (path, body) => fetch(${JSON.stringify(env.url)} + path, { method: 'POST', headers, body: JSON.stringify(body) }).then((r) => r.status);
      return {
        signedIn: Boolean(token),
        preview: await post('/functions/v1/dispatch-preview', { eventId: 'auth.password_reset' }),
        trigger: await post('/functions/v1/dispatch-trigger', { eventId: 'order.created', recordId: crypto.randomUUID() }),
        receipts: await post('/rest/v1/rpc/dispatch_receipts', {}),
      };
    })()`)) as { signedIn: boolean; preview: number; trigger: number; receipts: number };
    assert.equal(answers.signedIn, true);
    assert.equal(answers.preview, 403, 'dispatch-preview refuses a buyer');
    assert.equal(answers.trigger, 403, 'dispatch-trigger refuses a buyer');
    assert.ok(answers.receipts >= 400, `dispatch_receipts refuses a buyer (HTTP ${answers.receipts})`);
  });

  test('9. admin: a webhook refused for good (410) is listed under Failed deliveries with its attempt; Retry delivers it once the endpoint is fixed', async () => {
    const behave = (body: Record<string, unknown>) =>
      fetch(`${env.sinkUrl}/api/behaviours`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }).then((r) => assert.equal(r.status, 201, 'the sink took the behaviour'));
    // The orders endpoint is gone (410 is permanent: one attempt, then `failed`).
    await behave({ path: '/orders', mode: 'gone' });
    let receiptId = '';
    let failedOrderId = '';
    try {
      const buyerApi = await signIn(buyerUser.email, buyerUser.password);
      const product = await db.query<{ id: string }>('select id from public.products where name = $1', [
        productName,
      ]);
      const placed = await buyerApi
        .from('orders')
        .insert({ product_id: product.rows[0].id })
        .select('id')
        .single();
      assert.equal(placed.error, null, placed.error?.message);
      failedOrderId = (placed.data as { id: string }).id;
      await buyerApi.auth.signOut();
      receiptId = await waitFor('the webhook receipt failed after the 410', async () => {
        const { rows } = await db.query<{ id: string; status: string }>(
          `select r.id, r.status from dispatch.receipts r join dispatch.occurrences o on o.id = r.occurrence_id
            where r.transport = 'webhook' and o.new_record ->> 'id' = $1`,
          [failedOrderId],
        );
        return rows[0]?.status === 'failed' ? rows[0].id : false;
      });
    } finally {
      // the endpoint is fixed: what retries now is delivered
      await behave({ path: '/orders', mode: 'ok' });
    }

    await adminPage.goto(`${server.url}/admin/failed`);
    const card = adminPage.locator(`[data-receipt-id="${receiptId}"]`);
    await card.waitFor();
    assert.match((await card.textContent()) ?? '', /order\.created/);
    const attempt = card.getByRole('row').nth(1);
    assert.match((await attempt.textContent()) ?? '', /410/, 'the attempt shows the HTTP status');
    await shot(adminPage, 'admin-failed');

    await card.getByRole('button', { name: 'Retry', exact: true }).click();
    await adminPage.getByText(/1 sent again/).waitFor();
    await waitFor('the receipt sent after the retry', async () => {
      const { rows } = await db.query<{ status: string }>(
        'select status from dispatch.receipts where id = $1',
        [receiptId],
      );
      return rows[0]?.status === 'sent';
    });
    const delivered = await waitFor('the retried webhook in the sink, answered 2xx', async () => {
      const hooks = (await sinkRequests('/orders')).filter((r) => r.json?.data?.orderId === failedOrderId);
      return hooks.length >= 2 ? hooks : false;
    });
    // the same message both times: one webhook-id, so a receiver that saw the first dedupes it
    assert.equal(new Set(delivered.map((r) => r.headers['webhook-id'])).size, 1);
    assert.ok(
      delivered.every((r) => r.signatureValid),
      'both attempts are signed',
    );
    await card.waitFor({ state: 'detached' });
  });

  test('10. sign-up through the form fills the profile; a wrong password shows Auth’s error on the form', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const page = await ctx.newPage();
      const email = `signup-${Date.now()}@demo-market.test`;
      await page.goto(`${server.url}/signup`);
      await page.getByLabel('Display name').fill('Form Newcomer');
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill('signup-pass-1');
      await page.getByLabel('Region').selectOption('south');
      await page.getByRole('button', { name: 'Create account' }).click();
      await page.waitForURL(/\/shop/);
      const { rows } = await db.query<{ display_name: string; region: string; role: string }>(
        'select p.display_name, p.region, p.role from public.profiles p join auth.users u on u.id = p.id where u.email = $1',
        [email],
      );
      assert.deepEqual(rows, [{ display_name: 'Form Newcomer', region: 'south', role: 'buyer' }]);

      await ctx.clearCookies();
      await page.evaluate(() => localStorage.clear());
      await page.goto(`${server.url}/signin`);
      await page.getByLabel('Email').fill(email);
      await page.getByLabel('Password').fill('not-the-password');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByText(/invalid login credentials/i).waitFor();
      assert.equal(new URL(page.url()).pathname, '/signin');
      assert.equal(
        await page.getByRole('button', { name: 'Sign in' }).isEnabled(),
        true,
        'the form is usable again',
      );
    } finally {
      await ctx.close();
    }
  });
});
