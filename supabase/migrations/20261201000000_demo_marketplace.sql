-- The demo marketplace (issue 19): profiles, products, orders, with RLS.
--
-- Who is an admin is the supadispatch core's rule (`dispatch.admins`, or app_metadata.role =
-- 'admin', both written only with the service role). `profiles.role` mirrors app_metadata.role so
-- audience filters can read it; users have no INSERT/UPDATE privilege on it (only on display_name
-- and region), so nobody makes themselves an admin or a seller.

create table public.profiles (
  id uuid primary key references auth.users (id) on delete cascade,
  email text not null default '',
  display_name text not null default '',
  region text not null default 'north' check (region in ('north', 'south')),
  role text not null default 'buyer' check (role in ('buyer', 'seller', 'admin'))
);

create table public.products (
  id uuid primary key default gen_random_uuid(),
  seller_id uuid not null references public.profiles (id) on delete cascade,
  name text not null check (length(name) between 1 and 120),
  price_cents integer not null check (price_cents >= 0)
);
create index products_seller_id_idx on public.products (seller_id);

create table public.orders (
  id uuid primary key default gen_random_uuid(),
  -- A short number people can read in emails and on screen ("#1003"), beside the uuid.
  number bigint generated always as identity (start with 1001) unique,
  buyer_id uuid not null default auth.uid() references public.profiles (id) on delete cascade,
  product_id uuid not null references public.products (id) on delete cascade,
  status text not null default 'pending' check (status in ('pending', 'paid', 'shipped', 'cancelled')),
  region text not null default 'north' check (region in ('north', 'south')),
  created_at timestamptz not null default now()
);
create index orders_buyer_id_idx on public.orders (buyer_id);
create index orders_product_id_idx on public.orders (product_id);
create index orders_status_idx on public.orders (status);

---------------------------------------------------------------------------------------------------
-- Profiles follow auth.users: a row on sign-up, role and email kept in step afterwards.

create or replace function public.demo_sync_profile() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  v_role text := coalesce(new.raw_app_meta_data ->> 'role', 'buyer');
  v_region text := coalesce(new.raw_user_meta_data ->> 'region', 'north');
begin
  if v_role not in ('buyer', 'seller', 'admin') then
    v_role := 'buyer';
  end if;
  if v_region not in ('north', 'south') then
    v_region := 'north';
  end if;
  insert into public.profiles (id, email, display_name, region, role)
  values (
    new.id,
    coalesce(new.email, ''),
    coalesce(nullif(new.raw_user_meta_data ->> 'display_name', ''), split_part(coalesce(new.email, ''), '@', 1)),
    v_region,
    v_role
  )
  on conflict (id) do update set email = excluded.email, role = excluded.role;
  return new;
end;
$$;
revoke all on function public.demo_sync_profile() from public, anon, authenticated;

create trigger demo_profile_on_signup
  after insert on auth.users
  for each row execute function public.demo_sync_profile();
create trigger demo_profile_on_change
  after update of email, raw_app_meta_data on auth.users
  for each row execute function public.demo_sync_profile();

-- An order's region is its buyer's (users have no INSERT privilege on the column).
create or replace function public.demo_order_region() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  select p.region into new.region from public.profiles p where p.id = new.buyer_id;
  new.region := coalesce(new.region, 'north');
  return new;
end;
$$;
revoke all on function public.demo_order_region() from public, anon, authenticated;
create trigger demo_order_region before insert on public.orders
  for each row execute function public.demo_order_region();

---------------------------------------------------------------------------------------------------
-- Privileges: column grants first (what a role may touch at all), RLS second (which rows).

revoke all on public.profiles, public.products, public.orders from anon, authenticated;
grant select on public.profiles, public.products, public.orders to authenticated;
grant update (display_name, region) on public.profiles to authenticated;
grant insert (seller_id, name, price_cents), update (name, price_cents), delete on public.products to authenticated;
grant insert (buyer_id, product_id) on public.orders to authenticated;
grant update (status) on public.orders to authenticated;
grant all on public.profiles, public.products, public.orders to service_role;

alter table public.profiles enable row level security;
alter table public.products enable row level security;
alter table public.orders enable row level security;

-- Is the signed-in user the seller of this product? (security definer: products are readable by
-- everyone signed in anyway; it keeps the orders policies from recursing through RLS.)
create or replace function public.demo_sells(p_product_id uuid) returns boolean
language sql stable security definer set search_path = '' as $$
  select exists (
    select from public.products p where p.id = p_product_id and p.seller_id = (select auth.uid())
  )
$$;
revoke all on function public.demo_sells(uuid) from public, anon;
grant execute on function public.demo_sells(uuid) to authenticated, service_role;

-- Profiles: your own, every seller's (the shop shows who sells), your buyers' (a seller's
-- dashboard), all of them for admins.
create policy "profiles: own, sellers, my buyers, admins" on public.profiles for select to authenticated
  using (
    id = (select auth.uid())
    or role = 'seller'
    or (select public.dispatch_is_admin())
    or exists (
      select from public.orders o join public.products p on p.id = o.product_id
      where o.buyer_id = profiles.id and p.seller_id = (select auth.uid())
    )
  );
create policy "profiles: update own" on public.profiles for update to authenticated
  using (id = (select auth.uid())) with check (id = (select auth.uid()));

create policy "products: everyone signed in reads" on public.products for select to authenticated
  using (true);
create policy "products: sellers add theirs" on public.products for insert to authenticated
  with check (
    seller_id = (select auth.uid())
    and exists (select from public.profiles p where p.id = (select auth.uid()) and p.role = 'seller')
  );
create policy "products: sellers change theirs" on public.products for update to authenticated
  using (seller_id = (select auth.uid())) with check (seller_id = (select auth.uid()));
create policy "products: sellers remove theirs" on public.products for delete to authenticated
  using (seller_id = (select auth.uid()));

-- Orders: buyers see theirs, sellers the orders of their products, admins all.
create policy "orders: buyer, seller, admin read" on public.orders for select to authenticated
  using (
    buyer_id = (select auth.uid())
    or public.demo_sells(product_id)
    or (select public.dispatch_is_admin())
  );
create policy "orders: buyers place pending orders" on public.orders for insert to authenticated
  with check (buyer_id = (select auth.uid()) and status = 'pending');
-- Status changes: the seller (pay, ship, cancel), an admin, or the buyer cancelling an open order.
create policy "orders: sellers and admins change status" on public.orders for update to authenticated
  using (public.demo_sells(product_id) or (select public.dispatch_is_admin()))
  with check (public.demo_sells(product_id) or (select public.dispatch_is_admin()));
create policy "orders: buyers cancel open orders" on public.orders for update to authenticated
  using (buyer_id = (select auth.uid()) and status in ('pending', 'paid'))
  with check (buyer_id = (select auth.uid()) and status = 'cancelled');

---------------------------------------------------------------------------------------------------
-- The function audience of `product.price_changed` (format 5): buyers with an open order of the
-- product. Owned by the app; the generated expander calls it with the product's id.

create or replace function public.demo_open_order_buyers(p_product_id uuid) returns setof uuid
language sql stable security definer set search_path = '' as $$
  select distinct o.buyer_id from public.orders o
  where o.product_id = p_product_id and o.status in ('pending', 'paid')
$$;
revoke all on function public.demo_open_order_buyers(uuid) from public, anon, authenticated;
grant execute on function public.demo_open_order_buyers(uuid) to service_role;
