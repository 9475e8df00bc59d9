// dispatch.config.ts — the demo marketplace's notifications and realtime counters (issue 19).
// Edit, then `npx supadispatch gen` (npm test runs `supadispatch check`, which fails when the
// generated files are stale). Reference: docs/config.md.
import { defineDispatch } from 'supadispatch';

export default defineDispatch({
  users: { table: 'public.profiles', id: 'id' },

  transports: {
    in_app: {},
    // The local stack points Resend's API at its mail catcher (RESEND_API_URL) and accepts any key.
    email: {
      provider: 'resend',
      from: 'Demo Market <orders@demo-market.test>',
      apiKeySecret: 'RESEND_API_KEY',
    },
    // Standard Webhooks signatures with the secret the local webhook sink verifies.
    webhook: { signingSecret: 'DISPATCH_WEBHOOK_SECRET' },
  },

  // All six audience formats. `profiles.role` mirrors app_metadata.role and users cannot write it
  // (supabase/migrations/20261201000000_demo_marketplace.sql), so filters on it are safe.
  audiences: {
    buyer: { column: 'buyer_id' }, // 1. a column of the row
    admins: { where: { role: 'admin' } }, // 2. a filter over profiles
    seller: { chain: ['product_id', 'products.seller_id'] }, // 3. orders -> products -> seller
    regionalAdmins: { where: { role: 'admin', region: { fromRow: 'region' } } }, // 4. values from the row
    openOrderBuyers: { function: 'public.demo_open_order_buyers', args: ['id'] }, // 5. an SQL function
    // 6. static recipients: the webhook sink's /orders. Its URL depends on the stack's port, so the
    // address is a function secret (`npm start` and `npm test` set DEMO_ORDERS_WEBHOOK_URL).
    ordersSink: { system: [{ webhook: 'secret:DEMO_ORDERS_WEBHOOK_URL', name: 'orders-sink' }] },
  },
  // No `admin` key: the core's rule decides who is an admin (dispatch.admins, app_metadata.role).

  events: {
    'order.created': {
      table: 'orders',
      on: 'insert',
      channels: [
        { transport: 'email', audience: 'buyer' },
        { transport: 'in_app', audience: 'seller' },
        { transport: 'webhook', audience: 'ordersSink' },
      ],
      content: {
        subject: 'Order #{{number}} received',
        title: 'New order #{{number}}',
        message: 'A buyer ordered one of your products (order #{{number}}, {{region}}).',
        actionUrl: '/seller',
        actionLabel: 'Open the dashboard',
        text: 'Thank you for your order #{{number}}. We let you know when it ships.',
        html: '<h2>Thank you for your order</h2><p>Order <strong>#{{number}}</strong> is in. We let you know when it ships.</p>',
        payload: {
          orderId: '{{id}}',
          number: '{{number}}',
          productId: '{{product_id}}',
          status: '{{status}}',
        },
      },
      metadata: { type: 'info', category: 'orders', userConfigurable: true },
    },
    'order.shipped': {
      table: 'orders',
      on: 'update',
      when: { changed: 'status', to: 'shipped' },
      channels: [
        { transport: 'in_app', audience: 'buyer' },
        // Shows delays: the email leaves a few seconds after the in-app notification.
        { transport: 'email', audience: 'buyer', delay: '5s' },
      ],
      content: {
        subject: 'Order #{{number}} has shipped',
        title: 'Order #{{number}} shipped',
        message: 'Your order #{{number}} is on its way.',
        actionUrl: '/orders',
        actionLabel: 'My orders',
        text: 'Good news: order #{{number}} is on its way.',
        html: '<h2>Your order has shipped</h2><p>Order <strong>#{{number}}</strong> is on its way.</p>',
      },
      metadata: { type: 'success', category: 'orders', userConfigurable: true },
    },
    'order.cancelled': {
      table: 'orders',
      on: 'update',
      when: { changed: 'status', to: 'cancelled' },
      channels: [
        { transport: 'in_app', audience: 'buyer' },
        { transport: 'email', audience: 'buyer' },
        { transport: 'in_app', audience: 'seller' },
      ],
      content: {
        subject: 'Order #{{number}} was cancelled',
        title: 'Order #{{number}} cancelled',
        message: 'Order #{{number}} was cancelled.',
        actionUrl: '/orders',
        actionLabel: 'See orders',
        text: 'Order #{{number}} was cancelled. Nothing will be charged.',
      },
      metadata: { type: 'warning', category: 'orders', userConfigurable: true },
    },
    'order.regional_alert': {
      table: 'orders',
      on: 'insert',
      channels: [{ transport: 'in_app', audience: 'regionalAdmins' }],
      content: {
        title: 'New order in {{region}}',
        message: 'Order #{{number}} was placed in your region ({{region}}).',
        actionUrl: '/admin/counters',
        actionLabel: 'Counters',
      },
      metadata: { type: 'info', category: 'admin', userConfigurable: true },
    },
    'product.listed': {
      table: 'products',
      on: 'insert',
      channels: [{ transport: 'in_app', audience: 'admins' }],
      content: {
        title: 'New product: {{name}}',
        message: '{{name}} is now in the shop.',
        actionUrl: '/shop',
        actionLabel: 'Shop',
      },
      metadata: { type: 'info', category: 'catalog', userConfigurable: true },
    },
    'product.price_changed': {
      table: 'products',
      on: 'update',
      when: { changed: 'price_cents' },
      channels: [{ transport: 'in_app', audience: 'openOrderBuyers' }],
      content: {
        title: 'Price change: {{name}}',
        message: '{{name}} now costs {{price_cents}} cents (you have an open order of it).',
        actionUrl: '/orders',
        actionLabel: 'My orders',
      },
      metadata: { type: 'info', category: 'catalog', userConfigurable: true },
    },
    // Supabase Auth's password reset email, through the Send Email hook, restyled by a module.
    // Preferences never skip auth emails.
    'auth.password_reset': {
      module: './supabase/functions/_shared/events/password-reset.ts',
      metadata: { type: 'info', category: 'account', userConfigurable: false },
    },
  },

  counters: {
    pending_orders: {
      table: 'orders',
      where: { status: 'pending' },
      scope: { audience: 'admins' },
      invalidates: [['orders']],
    },
    seller_open_orders: {
      table: 'orders',
      where: { status: { in: ['pending', 'paid'] } },
      scope: { user: ['product_id', 'products.seller_id'] },
      invalidates: [['orders']],
    },
    my_open_orders: {
      table: 'orders',
      where: { status: { in: ['pending', 'paid'] } },
      scope: { user: 'buyer_id' },
      invalidates: [['orders']],
    },
  },

  output: { sdk: 'demo/src/dispatch.generated.ts' },
});
