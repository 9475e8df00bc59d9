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
    admin: { where: { is_admin: true } }, // 2. a filter over users.table
    // seller: { chain: ['product_id', 'products.seller_id'] },            // 3. a chain of foreign keys
    // regionalAdmin: { where: { is_admin: true, region: { fromRow: 'region' } } }, // 4. values from the row
    // onDuty: { function: 'public.on_duty_admins', args: ['region'] },    // 5. your SQL function (setof uuid)
    // ops: { system: [{ email: 'ops@example.com' }, { slack: { urlSecret: 'SLACK_OPS_URL' } }] }, // 6. static
  },
  // The audience allowed to use the admin RPCs, preview and manual trigger.
  admin: 'admin',

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
      channels: [{ transport: 'in_app', audience: 'admin' }],
      content: { title: 'supadispatch is set up', message: 'Edit dispatch.config.ts to add your events.' },
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
