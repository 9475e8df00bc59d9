import { createHash } from 'node:crypto';
import { sendJson } from '../http.ts';
import { parseGoDuration } from '../project-config.ts';
import { type Handler, obj, str, uuidPattern } from './context.ts';
import { AuthError, badRequest, internal, notFound } from './errors.ts';
import { clearOneTimeTokens } from './one-time-tokens.ts';
import { endSessions } from './sessions.ts';
import {
  confirmUser,
  type Db,
  emailAppMetadata,
  findUserById,
  hashPassword,
  insertEmailUser,
  isDuplicatedEmail,
  mergeMetadata,
  nilInstanceId,
  randomPassword,
  setEmailIdentity,
  type UserRow,
  userJson,
} from './users.ts';
import { checkPasswordStrength, emailExists, maxPasswordLength, validateEmail } from './validate.ts';

/**
 * /admin/users[/<id>] (admin.go): list, read, create, update and delete users with a service_role token.
 * GET /admin/users?page&per_page&filter lists newest first, with GoTrue's `link` and `x-total-count` headers.
 */
export const adminListUsers: Handler = async (auth, req, res, url) => {
  auth.requireAdmin(req);
  const parse = (name: string, fallback: number) => {
    const raw = url.searchParams.get(name);
    if (raw === null || raw === '') return fallback;
    if (!/^\d+$/.test(raw)) {
      throw badRequest(
        'validation_failed',
        `Bad Pagination Parameters: strconv.ParseUint: parsing "${raw}": invalid syntax`,
      );
    }
    return Number(raw);
  };
  const page = Math.max(parse('page', 1), 1);
  const perPage = parse('per_page', 50) || 50;
  const filter = url.searchParams.get('filter') ?? '';
  const where = `instance_id = $1 and aud = 'authenticated'${
    filter ? " and (email ilike $2 or raw_user_meta_data->>'full_name' ilike $2)" : ''
  }`;
  const args: unknown[] = [nilInstanceId];
  if (filter) args.push(`%${filter}%`);
  const pool = auth.ctx.adminPool;
  const count = await pool.query<{ n: string }>(`select count(*) as n from auth.users where ${where}`, args);
  const total = Number(count.rows[0].n);
  const ids = await pool.query<{ id: string }>(
    `select id from auth.users where ${where} order by created_at desc, id desc limit ${perPage} offset ${(page - 1) * perPage}`,
    args,
  );
  const users: Record<string, unknown>[] = [];
  for (const { id } of ids.rows) {
    const user = await findUserById(pool, id);
    if (user) users.push(userJson(user));
  }
  const totalPages = Math.ceil(total / perPage);
  const link = (p: number) => {
    const query = new URLSearchParams(url.searchParams);
    query.set('page', String(p));
    const sorted = [...query.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `</admin/users?${sorted.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')}>`;
  };
  let header = '';
  if (totalPages > page) header += `${link(page + 1)}; rel="next", `;
  header += `${link(totalPages)}; rel="last"`;
  sendJson(res, 200, { users, aud: 'authenticated' }, { link: header, 'x-total-count': String(total) });
};

/** loadUser: the `<id>` of /admin/users/<id>. */
async function loadUserParam(db: Db, id: string): Promise<UserRow> {
  if (!uuidPattern.test(id)) throw notFound('validation_failed', 'user_id must be an UUID');
  const user = await findUserById(db, id);
  if (!user) throw notFound('user_not_found', 'User not found');
  return user;
}

export const adminGetUser: Handler<string> = async (auth, req, res, id) => {
  auth.requireAdmin(req);
  sendJson(res, 200, userJson(await loadUserParam(auth.ctx.adminPool, id)));
};

/** `ban_duration`: undefined when absent, null for "none" (unban), else the end of the ban. */
function banUntil(duration: unknown): Date | null | undefined {
  const raw = str(duration);
  if (!raw) return undefined;
  if (raw === 'none') return null;
  const seconds = parseGoDuration(raw, Number.NaN);
  if (!Number.isFinite(seconds)) {
    throw badRequest('validation_failed', `invalid format for ban duration: time: invalid duration "${raw}"`);
  }
  return new Date(Date.now() + seconds * 1000);
}

export const adminCreateUser: Handler = async (auth, req, res) => {
  auth.requireAdmin(req);
  const body = await auth.body(req);
  let email = str(body.email);
  const phone = str(body.phone);
  if (!email && !phone) {
    throw badRequest('validation_failed', 'Cannot create a user without either an email or phone');
  }
  if (phone) throw badRequest('validation_failed', 'Phone users are not supported by the local stack');
  email = validateEmail(email);
  if (await isDuplicatedEmail(auth.ctx.adminPool, email, 'authenticated')) throw emailExists();
  const password = typeof body.password === 'string' ? body.password : null;
  const passwordHash = str(body.password_hash);
  if (password !== null && passwordHash) {
    throw badRequest('validation_failed', 'Only a password or a password hash should be provided');
  }
  if (password !== null && password.length > maxPasswordLength) {
    throw badRequest('validation_failed', 'bcrypt: password length exceeds 72 bytes');
  }
  const customId = str(body.id);
  if (customId && !uuidPattern.test(customId)) {
    throw badRequest('validation_failed', 'ID must conform to the uuid v4 format');
  }
  if (customId === nilInstanceId) throw badRequest('validation_failed', 'ID cannot be a nil uuid');
  const banned = banUntil(body.ban_duration);
  const user = await auth.tx(async (db) => {
    try {
      const created = await insertEmailUser(db, {
        id: customId || undefined,
        email,
        passwordHash: passwordHash || (await hashPassword(db, password || randomPassword())),
        userMetadata: obj(body.user_metadata) ?? {},
        appMetadata: mergeMetadata(emailAppMetadata(), obj(body.app_metadata) ?? {}),
        role: str(body.role) || 'authenticated',
      });
      const id = created.id;
      if (body.email_confirm === true) await confirmUser(db, created);
      if (banned !== undefined)
        await db.query('update auth.users set banned_until = $2 where id = $1', [id, banned]);
      return (await findUserById(db, id))!;
    } catch (error) {
      if (error instanceof AuthError) throw error;
      auth.ctx.log('auth', 'admin create user failed', error);
      throw internal('Database error creating new user');
    }
  });
  sendJson(res, 200, userJson(user));
};

export const adminUpdateUser: Handler<string> = async (auth, req, res, id) => {
  auth.requireAdmin(req);
  const body = await auth.body(req);
  let email = str(body.email);
  if (email) email = validateEmail(email);
  if (str(body.phone))
    throw badRequest('validation_failed', 'Phone users are not supported by the local stack');
  const banned = banUntil(body.ban_duration);
  const password = typeof body.password === 'string' ? body.password : null;
  if (password !== null) checkPasswordStrength(auth, password);
  const user = await auth.tx(async (db) => {
    const user = await loadUserParam(db, id);
    if (str(body.role)) await db.query('update auth.users set role = $2 where id = $1', [id, str(body.role)]);
    if (body.email_confirm === true) await confirmUser(db, user);
    if (password !== null) {
      await db.query(
        `update auth.users set encrypted_password = $2, confirmation_token = '', recovery_token = '',
            email_change_token_current = '', email_change_token_new = '', updated_at = now() where id = $1`,
        [id, await hashPassword(db, password)],
      );
      await clearOneTimeTokens(db, id);
      await endSessions(db, id);
    }
    if (email) {
      if (email !== user.email && (await isDuplicatedEmail(db, email, user.aud ?? 'authenticated', id))) {
        throw emailExists();
      }
      const verified = body.email_confirm === true;
      await setEmailIdentity(db, id, email, verified);
      if (user.is_anonymous && verified)
        await db.query('update auth.users set is_anonymous = false where id = $1', [id]);
      await db.query('update auth.users set email = $2, updated_at = now() where id = $1', [id, email]);
    }
    const current = (await findUserById(db, id))!;
    const appData = obj(body.app_metadata);
    if (appData) {
      await db.query('update auth.users set raw_app_meta_data = $2 where id = $1', [
        id,
        JSON.stringify(mergeMetadata(current.raw_app_meta_data, appData)),
      ]);
    }
    const userData = obj(body.user_metadata);
    if (userData) {
      await db.query('update auth.users set raw_user_meta_data = $2 where id = $1', [
        id,
        JSON.stringify(mergeMetadata(current.raw_user_meta_data, userData)),
      ]);
    }
    if (banned !== undefined)
      await db.query('update auth.users set banned_until = $2 where id = $1', [id, banned]);
    await db.query('update auth.users set updated_at = now() where id = $1', [id]);
    return (await findUserById(db, id))!;
  });
  sendJson(res, 200, userJson(user));
};

/** DELETE /admin/users/<id>; `should_soft_delete` keeps the row with its personal data obfuscated. */
export const adminDeleteUser: Handler<string> = async (auth, req, res, id) => {
  auth.requireAdmin(req);
  const body = await auth.body(req);
  await auth.tx(async (db) => {
    const user = await loadUserParam(db, id);
    if (body.should_soft_delete === true) {
      if (user.deleted_at) return;
      const obfuscate = (value: string) => createHash('sha256').update(`${id}${value}`).digest('hex');
      await db.query(
        `update auth.users set deleted_at = now(), email = $2, phone = null, encrypted_password = '',
            raw_user_meta_data = '{}'::jsonb, raw_app_meta_data = '{}'::jsonb, updated_at = now() where id = $1`,
        [id, user.email ? obfuscate(user.email) : null],
      );
      await db.query(
        `update auth.identities set provider_id = encode(extensions.digest(user_id::text || provider_id, 'sha256'), 'hex'),
            identity_data = '{}'::jsonb, updated_at = now() where user_id = $1`,
        [id],
      );
      await endSessions(db, id);
    } else {
      await db.query('delete from auth.users where id = $1', [id]);
    }
  });
  sendJson(res, 200, {});
};
