// dispatch.config.ts — notifications and realtime counters for this Supabase project.
// Edit, then run `npx supadispatch gen` and `supabase db push`. Reference: docs/config.md.
import { defineDispatch } from 'supadispatch';
// With the types from `supabase gen types typescript --local > src/database.types.ts`, tables and
// columns are checked too:  export default defineDispatch<Database>()({ ... })

export default defineDispatch({
  // Where users live for audience filters, and where their email addresses are (default auth.users.email).
  users: { table: 'public.profiles', id: 'id' },

  // Transports. Secrets are referenced by name (Edge Function secrets / Vault), never written here.
  transports: {
    in_app: {},
    email: { provider: 'resend', from: 'My App <noreply@example.com>', apiKeySecret: 'RESEND_API_KEY' },
    // webhook: { signingSecret: 'DISPATCH_WEBHOOK_SECRET' },
    // slack: {},
  },

  // Who receives what. Six formats:
  audiences: {
    owner: { column: 'user_id' }, // 1. a column of the row
    // staff: { where: { role: 'staff' } },                                 // 2. a filter over users.table (see the warning below)
    // seller: { chain: ['product_id', 'products.seller_id'] },            // 3. a chain of foreign keys
    // regionalStaff: { where: { role: 'staff', region: { fromRow: 'region' } } }, // 4. values from the row
    // onDuty: { function: 'public.on_duty_admins', args: ['region'] },    // 5. your SQL function (setof uuid)
    ops: { system: [{ email: 'ops@example.com' }] }, // 6. static recipients (add { slack: { urlSecret: 'SLACK_OPS_URL' } }, ...)
  },
  // Admins (admin RPCs, preview, manual trigger, the `dispatch:audience:admin` topic): without an
  // `admin` key the core's rule applies — a row in `dispatch.admins`, or
  // `auth.users.raw_app_meta_data->>'role' = 'admin'` (app_metadata is writable only with the service
  // role). Make someone an admin:  insert into dispatch.admins (user_id) values ('<uuid>');
  //
  // **WARNING**: an admin audience, and any audience used for topics or audience counters, must only
  // read columns users cannot write. Many apps let users update their own profile row
  // (`for update using (id = auth.uid())`): `admin: 'staff'` with `staff: { where: { is_admin: true } }`
  // on such a table lets any user make themselves admin (read every receipt, replay, join admin topics).
  // Only filter on columns `authenticated` cannot UPDATE (the same holds for recipients: a writable
  // `role` lets a user receive other people's notifications). `supadispatch doctor` checks this.
  // admin: 'staff',

  events: {
    // 'order.shipped': {
    //   table: 'orders',
    //   on: 'update',
    //   when: { changed: 'status', to: 'shipped' },
    //   channels: [
    //     { transport: 'in_app', audience: 'owner' },
    //     { transport: 'email', audience: 'owner', delay: '5m' },
    //   ],
    //   content: {
    //     subject: 'Your order #{{number}} has shipped',
    //     title: 'Order shipped',
    //     message: 'Order #{{number}} is on its way',
    //     actionUrl: '/orders/{{id}}',
    //     actionLabel: 'Track it',
    //     text: 'Order #{{number}} is on its way.',
    //   },
    //   metadata: { type: 'success', category: 'orders', userConfigurable: true },
    // },
    welcome: {
      // An event without a table fires only through dispatch.emit('welcome', record) or the admin trigger.
      // `ops` (static recipients) stands in until you add your own audiences.
      channels: [{ transport: 'email', audience: 'ops' }],
      content: { subject: 'supadispatch is set up', text: 'Edit dispatch.config.ts to add your events.' },
    },
  },

  counters: {
    // pending_orders: {
    //   table: 'orders',
    //   where: { status: 'pending' },
    //   scope: { user: 'user_id' },       // or { audience: 'admin' }
    //   invalidates: [['orders']],        // TanStack Query keys refreshed when the count moves
    // },
  },
});
