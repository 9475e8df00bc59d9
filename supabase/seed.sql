-- The demo marketplace's seed (`supabase db push --include-seed`, run by `npm start` and `npm test`).
-- Every user's password is `demopass` (README, "The demo"). Roles are app_metadata, which only the
-- service role writes; the profile trigger copies them to profiles.role.

insert into auth.users (
  instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
  raw_app_meta_data, raw_user_meta_data, created_at, updated_at
)
select
  '00000000-0000-0000-0000-000000000000', u.id::uuid, 'authenticated', 'authenticated', u.email,
  extensions.crypt('demopass', extensions.gen_salt('bf', 10)), now(),
  jsonb_build_object('provider', 'email', 'providers', jsonb_build_array('email'), 'role', u.role),
  jsonb_build_object('display_name', u.name, 'region', u.region), now(), now()
from (values
  ('d0000000-0000-4000-8000-000000000001', 'admin@demo-market.test', 'admin', 'Ada Admin', 'north'),
  ('d0000000-0000-4000-8000-000000000002', 'seller1@demo-market.test', 'seller', 'Sam''s Ceramics', 'north'),
  ('d0000000-0000-4000-8000-000000000003', 'seller2@demo-market.test', 'seller', 'Sol Bikes', 'south'),
  ('d0000000-0000-4000-8000-000000000004', 'buyer1@demo-market.test', 'buyer', 'Bea Buyer', 'north'),
  ('d0000000-0000-4000-8000-000000000005', 'buyer2@demo-market.test', 'buyer', 'Bo Buyer', 'south')
) as u (id, email, role, name, region)
on conflict (id) do nothing;

insert into auth.identities (id, provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at)
select gen_random_uuid(), u.id::text, u.id,
  jsonb_build_object('sub', u.id::text, 'email', u.email, 'email_verified', true, 'phone_verified', false),
  'email', now(), now(), now()
from auth.users u
where u.email like '%@demo-market.test'
on conflict (provider_id, provider) do nothing;

insert into public.products (id, seller_id, name, price_cents) values
  ('e0000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-000000000002', 'Stoneware mug', 1800),
  ('e0000000-0000-4000-8000-000000000002', 'd0000000-0000-4000-8000-000000000002', 'Serving bowl', 4200),
  ('e0000000-0000-4000-8000-000000000003', 'd0000000-0000-4000-8000-000000000002', 'Espresso cups (set of 2)', 2600),
  ('e0000000-0000-4000-8000-000000000004', 'd0000000-0000-4000-8000-000000000003', 'Bike bell', 1200),
  ('e0000000-0000-4000-8000-000000000005', 'd0000000-0000-4000-8000-000000000003', 'Saddle bag', 5400),
  ('e0000000-0000-4000-8000-000000000006', 'd0000000-0000-4000-8000-000000000003', 'LED light set', 3100)
on conflict (id) do nothing;

-- A few orders in every state. Inserting them fires order.created like any order (emails to the
-- buyers, in-app to the sellers, webhooks to the sink): the inboxes are not empty on first sign-in.
insert into public.orders (id, buyer_id, product_id, status, region, created_at) values
  ('f0000000-0000-4000-8000-000000000001', 'd0000000-0000-4000-8000-000000000004', 'e0000000-0000-4000-8000-000000000001', 'pending', 'north', now() - interval '3 hours'),
  ('f0000000-0000-4000-8000-000000000002', 'd0000000-0000-4000-8000-000000000004', 'e0000000-0000-4000-8000-000000000004', 'paid', 'north', now() - interval '2 days'),
  ('f0000000-0000-4000-8000-000000000003', 'd0000000-0000-4000-8000-000000000005', 'e0000000-0000-4000-8000-000000000002', 'shipped', 'south', now() - interval '5 days'),
  ('f0000000-0000-4000-8000-000000000004', 'd0000000-0000-4000-8000-000000000005', 'e0000000-0000-4000-8000-000000000005', 'pending', 'south', now() - interval '1 hour')
on conflict (id) do nothing;
