/**
 * The demo's backend (supabase/ + dispatch.config.ts) on the local stack, through the real path:
 * writes by signed-in users over REST, the generated capture triggers, the worker poked by pg_net
 * (nothing here calls dispatch.drain()), the mail catcher, the webhook sink, the Auth hook.
 * - RLS per role: buyers their orders, sellers the orders of their products, admins all;
 *   nobody writes profiles.role.
 * - Every event's receipts, notifications and counters.
 * - The password reset email (Auth -> Send Email hook -> event module) carries a working link.
 * Fresh users per run, so the counts are exact whatever else runs on the stack.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { SupabaseClient } from '@supabase/supabase-js';
import type pg from 'pg';
import { dispatch } from '../../demo/src/dispatch.generated.ts';
import { verifyWebhook } from '../../sdk/src/webhooks/index.ts';
import {
  anonClient,
  counterOf,
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

const skip = await demoMissing();

describe('demo backend: RLS, events, counters, auth hook (local stack)', { skip }, () => {
  let db: pg.Pool;
  let sellerUser: FreshUser;
  let otherSellerUser: FreshUser;
  let buyerUser: FreshUser;
  let otherBuyerUser: FreshUser;
  let adminUser: FreshUser;
  let seller: SupabaseClient;
  let otherSeller: SupabaseClient;
  let buyer: SupabaseClient;
  let otherBuyer: SupabaseClient;
  let admin: SupabaseClient;
  let productId: string;
  let otherProductId: string;

  const receipts = async (eventId: string, orderOrProductId: string) =>
    (
      await db.query<{
        channel: string;
        status: string;
        user_id: string | null;
        address: string | null;
        skip_reason: string | null;
        created_at: Date;
        next_attempt_at: Date;
        sent_at: Date | null;
      }>(
        `select r.channel, r.status, r.user_id, r.address, r.skip_reason, r.created_at, r.next_attempt_at, r.sent_at
         from dispatch.receipts r join dispatch.occurrences o on o.id = r.occurrence_id
         where r.event_id = $1 and o.new_record ->> 'id' = $2 order by r.channel, r.user_id`,
        [eventId, orderOrProductId],
      )
    ).rows;
  const notificationsOf = async (userId: string, eventId: string) =>
    (
      await db.query<{ title: string; message: string; action_url: string }>(
        'select title, message, action_url from dispatch.notifications where user_id = $1 and event_id = $2 order by created_at',
        [userId, eventId],
      )
    ).rows;

  before(async () => {
    db = dbPool();
    [sellerUser, otherSellerUser, buyerUser, otherBuyerUser, adminUser] = await Promise.all([
      freshUser('seller', 'seller', 'south'),
      freshUser('seller-b', 'seller', 'south'),
      freshUser('buyer', 'buyer', 'south'),
      freshUser('buyer-b', 'buyer', 'north'),
      freshUser('admin', 'admin', 'south'),
    ]);
    [seller, otherSeller, buyer, otherBuyer, admin] = await Promise.all(
      [sellerUser, otherSellerUser, buyerUser, otherBuyerUser, adminUser].map((u) =>
        signIn(u.email, u.password),
      ),
    );
    const made = await seller
      .from('products')
      .insert({ seller_id: sellerUser.id, name: 'Test teapot', price_cents: 3900 })
      .select('id')
      .single();
    assert.equal(made.error, null, made.error?.message);
    productId = made.data!.id;
    const other = await otherSeller
      .from('products')
      .insert({ seller_id: otherSellerUser.id, name: 'Test pump', price_cents: 1500 })
      .select('id')
      .single();
    assert.equal(other.error, null, other.error?.message);
    otherProductId = other.data!.id;
  });

  after(async () => {
    await Promise.all([seller, otherSeller, buyer, otherBuyer, admin].map((c) => c?.auth.signOut()));
    await db?.end();
  });

  test('profiles: filled on sign-up with role and region; users cannot write their role', async () => {
    const own = await buyer
      .from('profiles')
      .select('id, email, role, region')
      .eq('id', buyerUser.id)
      .single();
    assert.equal(own.error, null);
    assert.deepEqual(own.data, { id: buyerUser.id, email: buyerUser.email, role: 'buyer', region: 'south' });

    const promote = await buyer.from('profiles').update({ role: 'admin' }).eq('id', buyerUser.id);
    assert.ok(promote.error, 'updating profiles.role must fail');
    assert.match(promote.error.message, /permission denied/);
    const rename = await buyer.from('profiles').update({ display_name: 'Renamed' }).eq('id', buyerUser.id);
    assert.equal(rename.error, null);

    // A buyer sees their own profile and sellers', never another buyer's.
    const seen = await buyer.from('profiles').select('id').in('id', [otherBuyerUser.id, sellerUser.id]);
    assert.deepEqual(
      seen.data?.map((p) => p.id),
      [sellerUser.id],
    );
    const adminSees = await admin.from('profiles').select('id').in('id', [otherBuyerUser.id, buyerUser.id]);
    assert.equal(adminSees.data?.length, 2);
  });

  test('orders: RLS per role (buyer, seller, other seller, admin, anon)', async () => {
    const placed = await buyer
      .from('orders')
      .insert({ product_id: productId })
      .select('id, buyer_id, status, region')
      .single();
    assert.equal(placed.error, null, placed.error?.message);
    assert.equal(placed.data!.buyer_id, buyerUser.id);
    assert.equal(placed.data!.status, 'pending');
    assert.equal(placed.data!.region, 'south', "the order takes its buyer's region");
    const orderId = placed.data!.id;

    // Placing an order for someone else, or already paid, is refused.
    const forOther = await buyer
      .from('orders')
      .insert({ product_id: productId, buyer_id: otherBuyerUser.id });
    assert.ok(forOther.error, 'an order for another buyer must be refused');
    const paid = await buyer.from('orders').insert({ product_id: productId, status: 'paid' });
    assert.ok(paid.error, 'a buyer cannot insert the status');

    const sees = async (client: SupabaseClient) =>
      ((await client.from('orders').select('id').eq('id', orderId)).data ?? []).length === 1;
    assert.equal(await sees(buyer), true, 'the buyer sees their order');
    assert.equal(await sees(seller), true, 'the seller sees orders of their products');
    assert.equal(await sees(admin), true, 'admins see every order');
    assert.equal(await sees(otherBuyer), false, 'another buyer does not');
    assert.equal(await sees(otherSeller), false, 'another seller does not');
    const anon = await anonClient().from('orders').select('id').eq('id', orderId);
    assert.ok(anon.error || (anon.data ?? []).length === 0, 'anon sees nothing');

    // Status: another seller changes nothing; the buyer may only cancel; the seller ships.
    const hijack = await otherSeller
      .from('orders')
      .update({ status: 'shipped' })
      .eq('id', orderId)
      .select('id');
    assert.deepEqual(hijack.data ?? [], []);
    const buyerShips = await buyer
      .from('orders')
      .update({ status: 'shipped' })
      .eq('id', orderId)
      .select('id');
    assert.ok(buyerShips.error || (buyerShips.data ?? []).length === 0, 'a buyer cannot ship');
    const ships = await seller.from('orders').update({ status: 'paid' }).eq('id', orderId).select('status');
    assert.deepEqual(ships.data, [{ status: 'paid' }]);
    const cancels = await buyer
      .from('orders')
      .update({ status: 'cancelled' })
      .eq('id', orderId)
      .select('status');
    assert.deepEqual(cancels.data, [{ status: 'cancelled' }]);

    // The other seller's products stay theirs.
    const steal = await seller
      .from('products')
      .update({ price_cents: 1 })
      .eq('id', otherProductId)
      .select('id');
    assert.deepEqual(steal.data ?? [], []);
  });

  test('order.created: buyer email, seller in-app through the chain, signed webhook, regional admins, counters', async () => {
    const placed = await buyer.from('orders').insert({ product_id: productId }).select('id, number').single();
    assert.equal(placed.error, null, placed.error?.message);
    const { id, number } = placed.data!;

    const rows = await waitFor('order.created receipts sent', async () => {
      const r = await receipts('order.created', id);
      return r.length === 3 && r.every((x) => x.status === 'sent') ? r : false;
    });
    assert.deepEqual(
      rows.map((r) => [r.channel, r.user_id]),
      [
        ['email:buyer', buyerUser.id],
        ['in_app:seller', sellerUser.id],
        ['webhook:ordersSink', null],
      ],
    );
    const mail = await waitFor('the confirmation email', async () =>
      (await mailTo(buyerUser.email)).find((m) => m.subject === `Order #${number} received`),
    );
    assert.match(mail.html, new RegExp(`#${number}`));

    const note = (await notificationsOf(sellerUser.id, 'order.created')).find(
      (n) => n.title === `New order #${number}`,
    );
    assert.ok(note, "the seller's notification");
    assert.equal(note.action_url, '/seller');

    const hook = await waitFor('the webhook in the sink', async () =>
      (await sinkRequests('/orders')).find((r) => r.json?.data?.orderId === id),
    );
    assert.equal(hook.signatureValid, true, 'the sink verified the signature');
    const verified = verifyWebhook(hook.body, hook.headers, env.webhookSecret);
    assert.equal(verified.error, null, verified.error?.message);
    assert.equal(verified.data?.payload.type, 'order.created');

    // Regional alert: admins of the order's region (south) only, never the north admin of the seed.
    const regional = await waitFor('the regional alert', async () => {
      const r = await receipts('order.regional_alert', id);
      return r.length > 0 && r.every((x) => x.status === 'sent') ? r : false;
    });
    const recipients = regional.map((r) => r.user_id);
    assert.ok(recipients.includes(adminUser.id), 'the south admin is alerted');
    assert.ok(!recipients.includes('d0000000-0000-4000-8000-000000000001'), 'the north admin is not');

    // Each counter settles on what the table holds (earlier tests' changes may still be draining).
    await waitFor('seller_open_orders = open orders of the seller', async () => {
      const { rows } = await db.query(
        `select count(*)::int as n from public.orders o join public.products p on p.id = o.product_id
         where p.seller_id = $1 and o.status in ('pending', 'paid')`,
        [sellerUser.id],
      );
      return (await counterOf(seller, 'seller_open_orders')) === rows[0].n && rows[0].n > 0;
    });
    await waitFor('my_open_orders = open orders of the buyer', async () => {
      const { rows } = await db.query(
        `select count(*)::int as n from public.orders where buyer_id = $1 and status in ('pending', 'paid')`,
        [buyerUser.id],
      );
      return (await counterOf(buyer, 'my_open_orders')) === rows[0].n && rows[0].n > 0;
    });
    // pending_orders is shared by every admin: it must equal the pending orders in the table.
    await waitFor('pending_orders = pending orders', async () => {
      const { rows } = await db.query(
        `select count(*)::int as n from public.orders where status = 'pending'`,
      );
      return (await counterOf(admin, 'pending_orders')) === rows[0].n ? true : false;
    });
    const buyerHasNoAdminCounter = await counterOf(buyer, 'pending_orders');
    assert.equal(buyerHasNoAdminCounter, 0, 'a buyer gets no admin counter');
  });

  test('order.shipped: in-app at once, the email after its delay; counters drop', async () => {
    const placed = await buyer.from('orders').insert({ product_id: productId }).select('id, number').single();
    const { id, number } = placed.data!;
    await waitFor('order.created sent', async () => {
      const r = await receipts('order.created', id);
      return r.length === 3 && r.every((x) => x.status === 'sent');
    });
    const open = await counterOf(seller, 'seller_open_orders');
    const shipped = await seller.from('orders').update({ status: 'shipped' }).eq('id', id).select('status');
    assert.deepEqual(shipped.data, [{ status: 'shipped' }]);

    const note = await waitFor('the in-app notification', async () => {
      const n = (await notificationsOf(buyerUser.id, 'order.shipped')).find(
        (x) => x.title === `Order #${number} shipped`,
      );
      return n ?? false;
    });
    assert.equal(note.action_url, '/orders');
    const sent = await waitFor(
      'the shipped email',
      async () => {
        const r = await receipts('order.shipped', id);
        const email = r.find((x) => x.channel === 'email:buyer');
        return email?.status === 'sent' ? r : false;
      },
      // Due 5 s after the change; where pg_cron is older than 1.5 (the local stack's 1.4) a receipt
      // that comes due after the poked worker has finished waits for dispatch.tick(), every minute.
      90_000,
    );
    const email = sent.find((x) => x.channel === 'email:buyer')!;
    const inApp = sent.find((x) => x.channel === 'in_app:buyer')!;
    // The delay is the receipt's own schedule (database clock), not a measurement of this test.
    assert.ok(
      email.next_attempt_at.getTime() - email.created_at.getTime() >= 5_000,
      'the email was scheduled 5 s after the change',
    );
    assert.ok(email.sent_at && email.sent_at.getTime() >= email.created_at.getTime() + 5_000);
    assert.ok(inApp.sent_at && inApp.sent_at.getTime() < email.sent_at.getTime(), 'in-app first');
    await waitFor('the email in the mail catcher', async () =>
      (await mailTo(buyerUser.email)).find((m) => m.subject === `Order #${number} has shipped`),
    );
    await waitFor('seller_open_orders - 1', async () =>
      (await counterOf(seller, 'seller_open_orders')) === open - 1 ? true : false,
    );
  });

  test('order.cancelled with the email opted out: a skipped receipt and no email; in-app still sent', async () => {
    const set = await dispatch.rpc.setPreference(buyer, {
      eventId: 'order.cancelled',
      transport: 'email',
      enabled: false,
    });
    assert.equal(set.error, null, set.error?.message);
    try {
      const placed = await buyer
        .from('orders')
        .insert({ product_id: productId })
        .select('id, number')
        .single();
      const { id, number } = placed.data!;
      await buyer.from('orders').update({ status: 'cancelled' }).eq('id', id);
      const rows = await waitFor('order.cancelled receipts settled', async () => {
        const r = await receipts('order.cancelled', id);
        return r.length === 3 && r.every((x) => x.status === 'sent' || x.status === 'skipped') ? r : false;
      });
      const email = rows.find((r) => r.channel === 'email:buyer')!;
      assert.equal(email.status, 'skipped');
      assert.ok(email.skip_reason, 'the skip has a reason');
      assert.equal(rows.find((r) => r.channel === 'in_app:buyer')?.status, 'sent');
      assert.equal(rows.find((r) => r.channel === 'in_app:seller')?.status, 'sent');
      const mails = await mailTo(buyerUser.email);
      assert.equal(
        mails.filter((m) => m.subject === `Order #${number} was cancelled`).length,
        0,
        'no email was sent',
      );
    } finally {
      await dispatch.rpc.setPreference(buyer, {
        eventId: 'order.cancelled',
        transport: 'email',
        enabled: true,
      });
    }
  });

  test('product.listed (filter audience) and product.price_changed (function audience)', async () => {
    const listed = await otherSeller
      .from('products')
      .insert({ seller_id: otherSellerUser.id, name: 'Test horn', price_cents: 900 })
      .select('id')
      .single();
    const listedId = listed.data!.id;
    const toAdmins = await waitFor('product.listed to every admin', async () => {
      const r = await receipts('product.listed', listedId);
      return r.length > 0 && r.every((x) => x.status === 'sent') ? r : false;
    });
    const ids = toAdmins.map((r) => r.user_id);
    assert.ok(ids.includes(adminUser.id) && ids.includes('d0000000-0000-4000-8000-000000000001'));
    assert.ok(!ids.includes(buyerUser.id));

    // Only buyers with an open order of the product hear about its price.
    const open = await otherBuyer.from('orders').insert({ product_id: listedId }).select('id').single();
    assert.equal(open.error, null);
    const changed = await otherSeller
      .from('products')
      .update({ price_cents: 950 })
      .eq('id', listedId)
      .select('id');
    assert.equal(changed.data?.length, 1);
    const priced = await waitFor('product.price_changed', async () => {
      const r = await db.query<{ user_id: string; status: string }>(
        `select r.user_id, r.status from dispatch.receipts r join dispatch.occurrences o on o.id = r.occurrence_id
         where r.event_id = 'product.price_changed' and o.new_record ->> 'id' = $1`,
        [listedId],
      );
      return r.rows.length > 0 && r.rows.every((x) => x.status === 'sent') ? r.rows : false;
    });
    assert.deepEqual(
      priced.map((r) => r.user_id),
      [otherBuyerUser.id],
    );
    const [note] = await notificationsOf(otherBuyerUser.id, 'product.price_changed');
    assert.equal(note.title, 'Price change: Test horn');
  });

  test('password reset through the Auth hook: the email has a working link', async () => {
    const user = await freshUser('reset', 'buyer', 'north');
    const client = anonClient();
    const asked = await client.auth.resetPasswordForEmail(user.email, {
      redirectTo: 'http://127.0.0.1:5173/reset',
    });
    assert.equal(asked.error, null, asked.error?.message);
    const mail = await waitFor('the reset email', async () =>
      (await mailTo(user.email)).find((m) => m.subject === 'Reset your Demo Market password'),
    );
    const link = /https?:\/\/[^\s"<]+\/auth\/v1\/verify\?[^\s"<]+/.exec(mail.text)?.[0];
    assert.ok(link, `a verify link in:\n${mail.text}`);
    assert.match(link, /type=recovery/);

    // The receipt keeps the link redacted; the email carries it.
    // The outcome is recorded in a group right after the send (worker/recorder.ts), so the email can
    // reach the catcher a moment before its receipt says `sent`.
    const stored = await waitFor('the reset receipt sent', async () => {
      const r = await db.query<{ content: unknown; status: string }>(
        `select content, status from dispatch.receipts where event_id = 'auth.password_reset' and address = $1`,
        [user.email],
      );
      return r.rows[0]?.status === 'sent' ? r : false;
    });
    assert.equal(stored.rows[0]?.status, 'sent');
    assert.ok(!JSON.stringify(stored.rows[0].content).includes(new URL(link).searchParams.get('token')!));

    const verify = await fetch(link, { redirect: 'manual' });
    assert.equal(verify.status, 303);
    const location = verify.headers.get('location') ?? '';
    assert.ok(location.startsWith('http://127.0.0.1:5173/reset'), location);
    const fragment = new URLSearchParams(new URL(location).hash.slice(1));
    assert.equal(fragment.get('type'), 'recovery');
    const session = await client.auth.setSession({
      access_token: fragment.get('access_token')!,
      refresh_token: fragment.get('refresh_token')!,
    });
    assert.equal(session.error, null, session.error?.message);
    const updated = await client.auth.updateUser({ password: 'brand-new-password' });
    assert.equal(updated.error, null, updated.error?.message);
    await signIn(user.email, 'brand-new-password');
    const again = await fetch(link, { redirect: 'manual' });
    assert.ok(!(again.headers.get('location') ?? '').includes('access_token'), 'the link works once');
  });
});
