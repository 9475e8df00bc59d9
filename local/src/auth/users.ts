import { randomBytes, randomUUID } from 'node:crypto';
import type { Db } from './db.ts';
import { clearOneTimeTokens } from './one-time-tokens.ts';

/** `Db` lives in db.ts (one-time-tokens.ts needs it without importing this module). */
export type { Db };

export const nilInstanceId = '00000000-0000-0000-0000-000000000000';

/** A row of auth.users, as node-postgres returns it. */
export interface UserRow {
  id: string;
  aud: string | null;
  role: string | null;
  email: string | null;
  encrypted_password: string | null;
  email_confirmed_at: Date | null;
  invited_at: Date | null;
  confirmation_token: string | null;
  confirmation_sent_at: Date | null;
  recovery_token: string | null;
  recovery_sent_at: Date | null;
  email_change_token_new: string | null;
  email_change: string | null;
  email_change_sent_at: Date | null;
  last_sign_in_at: Date | null;
  raw_app_meta_data: Record<string, unknown> | null;
  raw_user_meta_data: Record<string, unknown> | null;
  created_at: Date | null;
  updated_at: Date | null;
  phone: string | null;
  phone_confirmed_at: Date | null;
  phone_change: string | null;
  phone_change_sent_at: Date | null;
  confirmed_at: Date | null;
  email_change_token_current: string | null;
  email_change_confirm_status: number | null;
  banned_until: Date | null;
  reauthentication_sent_at: Date | null;
  deleted_at: Date | null;
  is_anonymous: boolean;
  identities?: IdentityRow[];
}

export interface IdentityRow {
  id: string;
  provider_id: string;
  user_id: string;
  identity_data: Record<string, unknown>;
  provider: string;
  last_sign_in_at: Date | null;
  created_at: Date | null;
  updated_at: Date | null;
  email: string | null;
}

const iso = (value: Date | null | undefined): string | undefined => (value ? value.toISOString() : undefined);

export function identityJson(identity: IdentityRow): Record<string, unknown> {
  const out: Record<string, unknown> = {
    identity_id: identity.id,
    id: identity.provider_id,
    user_id: identity.user_id,
    identity_data: identity.identity_data,
    provider: identity.provider,
  };
  if (identity.last_sign_in_at) out.last_sign_in_at = iso(identity.last_sign_in_at);
  out.created_at = iso(identity.created_at) ?? null;
  out.updated_at = iso(identity.updated_at) ?? null;
  if (identity.email) out.email = identity.email;
  return out;
}

/** The user as GoTrue serialises models.User (field order and omitempty rules kept). */
export function userJson(user: UserRow): Record<string, unknown> {
  const out: Record<string, unknown> = { id: user.id, aud: user.aud ?? '', role: user.role ?? '' };
  out.email = user.email ?? '';
  if (user.email_confirmed_at) out.email_confirmed_at = iso(user.email_confirmed_at);
  if (user.invited_at) out.invited_at = iso(user.invited_at);
  out.phone = user.phone ?? '';
  if (user.phone_confirmed_at) out.phone_confirmed_at = iso(user.phone_confirmed_at);
  if (user.confirmation_sent_at) out.confirmation_sent_at = iso(user.confirmation_sent_at);
  if (user.confirmed_at) out.confirmed_at = iso(user.confirmed_at);
  if (user.recovery_sent_at) out.recovery_sent_at = iso(user.recovery_sent_at);
  if (user.email_change) out.new_email = user.email_change;
  if (user.email_change_sent_at) out.email_change_sent_at = iso(user.email_change_sent_at);
  if (user.phone_change) out.new_phone = user.phone_change;
  if (user.phone_change_sent_at) out.phone_change_sent_at = iso(user.phone_change_sent_at);
  if (user.reauthentication_sent_at) out.reauthentication_sent_at = iso(user.reauthentication_sent_at);
  if (user.last_sign_in_at) out.last_sign_in_at = iso(user.last_sign_in_at);
  out.app_metadata = user.raw_app_meta_data ?? {};
  out.user_metadata = user.raw_user_meta_data ?? {};
  out.identities = (user.identities ?? []).map(identityJson);
  out.created_at = iso(user.created_at) ?? null;
  out.updated_at = iso(user.updated_at) ?? null;
  if (user.banned_until) out.banned_until = iso(user.banned_until);
  if (user.deleted_at) out.deleted_at = iso(user.deleted_at);
  out.is_anonymous = user.is_anonymous;
  return out;
}

export const isConfirmed = (user: UserRow): boolean => user.email_confirmed_at !== null;
export const isBanned = (user: UserRow): boolean =>
  user.banned_until !== null && user.banned_until.getTime() > Date.now();

async function withIdentities(db: Db, user: UserRow | undefined): Promise<UserRow | null> {
  if (!user) return null;
  const identities = await db.query<IdentityRow>(
    'select * from auth.identities where user_id = $1 order by created_at, id',
    [user.id],
  );
  user.identities = identities.rows;
  return user;
}

export async function findUserById(db: Db, id: string, forUpdate = false): Promise<UserRow | null> {
  const { rows } = await db.query<UserRow>(
    `select * from auth.users where id = $1${forUpdate ? ' for update' : ''}`,
    [id],
  );
  return withIdentities(db, rows[0]);
}

export async function findUserByEmail(db: Db, email: string, aud = 'authenticated'): Promise<UserRow | null> {
  const { rows } = await db.query<UserRow>(
    `select * from auth.users
      where instance_id = $3 and lower(email) = lower($1) and aud = $2 and is_sso_user = false
      order by created_at limit 1`,
    [email, aud, nilInstanceId],
  );
  return withIdentities(db, rows[0]);
}

/** Any user (or a pending email change) already holding this address, other than `exceptId`. */
export async function isDuplicatedEmail(
  db: Db,
  email: string,
  aud: string,
  exceptId?: string,
): Promise<boolean> {
  const { rows } = await db.query(
    `select 1 from auth.users
      where instance_id = $4 and lower(email) = lower($1) and aud = $2 and is_sso_user = false
        and ($3::uuid is null or id <> $3::uuid)
     union all
     select 1 from auth.identities i join auth.users u on u.id = i.user_id
      where i.email = lower($1) and i.provider = 'email' and u.aud = $2 and ($3::uuid is null or u.id <> $3::uuid)
     limit 1`,
    [email, aud, exceptId ?? null, nilInstanceId],
  );
  return rows.length > 0;
}

export async function hashPassword(db: Db, password: string): Promise<string> {
  const { rows } = await db.query<{ hash: string }>(
    "select extensions.crypt($1, extensions.gen_salt('bf', 10)) as hash",
    [password],
  );
  return rows[0].hash;
}

/** A password nobody knows, for users made without one (magic link, invite, admin create). */
export const randomPassword = (): string => randomBytes(48).toString('base64url');

export async function checkPassword(db: Db, user: UserRow, password: string): Promise<boolean> {
  if (!user.encrypted_password) return false;
  const { rows } = await db.query<{ ok: boolean }>('select extensions.crypt($1, $2) = $2 as ok', [
    password,
    user.encrypted_password,
  ]);
  return rows[0]?.ok === true;
}

export interface NewUser {
  id?: string;
  email: string | null;
  phone?: string | null;
  passwordHash: string | null;
  userMetadata: Record<string, unknown>;
  appMetadata: Record<string, unknown>;
  role?: string;
  isAnonymous?: boolean;
}

export async function insertUser(db: Db, user: NewUser): Promise<string> {
  const id = user.id ?? randomUUID();
  await db.query(
    `insert into auth.users (instance_id, id, aud, role, email, encrypted_password, raw_app_meta_data,
        raw_user_meta_data, is_super_admin, created_at, updated_at, phone, confirmation_token, recovery_token,
        email_change_token_new, email_change, email_change_token_current, email_change_confirm_status,
        phone_change, phone_change_token, reauthentication_token, is_anonymous)
     values ($1, $2, 'authenticated', $3, $4, $5, $6, $7, null, now(), now(), $8, '', '', '', '', '', 0, '', '', '', $9)`,
    [
      nilInstanceId,
      id,
      user.role ?? 'authenticated',
      user.email,
      user.passwordHash ?? '',
      JSON.stringify(user.appMetadata),
      JSON.stringify(user.userMetadata),
      user.phone ?? null,
      user.isAnonymous === true,
    ],
  );
  return id;
}

export async function insertIdentity(
  db: Db,
  userId: string,
  provider: string,
  identityData: Record<string, unknown>,
): Promise<void> {
  const data = { ...identityData };
  if (typeof data.email === 'string') data.email = data.email.toLowerCase();
  await db.query(
    `insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at, id)
     values ($1, $2, $3, $4, now(), now(), now(), gen_random_uuid())`,
    [String(data.sub ?? userId), userId, JSON.stringify(data), provider],
  );
}

/** GoTrue's provider.Claims for an email identity (email_verified/phone_verified always present). */
export function emailIdentityData(
  userId: string,
  email: string,
  extra: Record<string, unknown> = {},
  emailVerified = false,
): Record<string, unknown> {
  const data: Record<string, unknown> = {
    sub: userId,
    email,
    email_verified: emailVerified,
    phone_verified: false,
  };
  for (const [key, value] of Object.entries(extra)) if (!(key in data)) data[key] = value;
  return data;
}

/** The email identity's address and whether it is verified; a user without one gets one. */
export async function setEmailIdentity(
  db: Db,
  userId: string,
  email: string,
  verified: boolean,
): Promise<void> {
  const identity = await db.query<{ id: string }>(
    "select id from auth.identities where user_id = $1 and provider = 'email'",
    [userId],
  );
  if (identity.rows.length === 0) {
    await insertIdentity(db, userId, 'email', emailIdentityData(userId, email, {}, verified));
  } else {
    await db.query(
      `update auth.identities set identity_data = identity_data || jsonb_build_object('email', $2::text,
          'email_verified', $3::boolean), updated_at = now() where id = $1`,
      [identity.rows[0].id, email, verified],
    );
  }
}

/** The app_metadata of a user who signs up with an email address. */
export const emailAppMetadata = (): Record<string, unknown> => ({ provider: 'email', providers: ['email'] });

/**
 * signupNewUser + createNewIdentity("email"): a new user with its email identity (`identityData`
 * adds to the identity's claims), read back.
 */
export async function insertEmailUser(
  db: Db,
  user: NewUser & { email: string },
  identityData: Record<string, unknown> = {},
): Promise<UserRow> {
  const id = await insertUser(db, user);
  await insertIdentity(db, id, 'email', emailIdentityData(id, user.email, identityData));
  return (await findUserById(db, id))!;
}

/** Merges like UpdateUserMetaData / UpdateAppMetaData: null deletes a key, anything else sets it. */
export function mergeMetadata(
  current: Record<string, unknown> | null,
  updates: Record<string, unknown>,
): Record<string, unknown> {
  const out = { ...(current ?? {}) };
  for (const [key, value] of Object.entries(updates)) {
    if (value === null || value === undefined) delete out[key];
    else out[key] = value;
  }
  return out;
}

/** Confirms the email address (users.Confirm): clears the token, sets email_verified in user_metadata. */
export async function confirmUser(db: Db, user: UserRow): Promise<void> {
  await db.query(
    `update auth.users set confirmation_token = '', email_confirmed_at = now(), updated_at = now(),
        raw_user_meta_data = coalesce(raw_user_meta_data, '{}'::jsonb) || '{"email_verified": true}'::jsonb
      where id = $1`,
    [user.id],
  );
  await clearOneTimeTokens(db, user.id);
  await db.query(
    `update auth.identities set identity_data = identity_data || '{"email_verified": true}'::jsonb, updated_at = now()
      where user_id = $1 and provider = 'email' and email = lower($2)`,
    [user.id, user.email ?? ''],
  );
}

/** app_metadata.provider(s) recomputed from the user's identities (UpdateAppMetaDataProviders). */
export async function updateProviders(db: Db, userId: string): Promise<void> {
  await db.query(
    `update auth.users u set raw_app_meta_data = coalesce(u.raw_app_meta_data, '{}'::jsonb) || jsonb_build_object(
        'providers', coalesce(p.providers, '[]'::jsonb)) || case when p.first is null then '{}'::jsonb
        else jsonb_build_object('provider', p.first) end
       from (select jsonb_agg(distinct provider) as providers, min(provider) as first
               from auth.identities where user_id = $1) p
      where u.id = $1`,
    [userId],
  );
}

/** ConfirmEmailChange and the identity update around it: `email_change` becomes the address. */
export async function confirmEmailChange(db: Db, user: UserRow): Promise<void> {
  const newEmail = user.email_change ?? '';
  await setEmailIdentity(db, user.id, newEmail, true);
  await db.query(
    `update auth.users set email = $2, email_change = '', email_change_token_current = '', email_change_token_new = '',
        email_change_confirm_status = 0, is_anonymous = false, updated_at = now()
      where id = $1`,
    [user.id, newEmail],
  );
  await clearOneTimeTokens(db, user.id);
  if (!isConfirmed(user)) await confirmUser(db, { ...user, email: newEmail });
  await updateProviders(db, user.id);
}
