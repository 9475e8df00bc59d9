import { createHash, randomBytes, randomInt, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type pg from 'pg';
import type { StackContext } from '../context.ts';
import { escapeHtml } from '../html.ts';
import { bearerToken, HttpError, readJson, sendJson } from '../http.ts';
import { type JwtClaims, verifyJwt } from '../jwt.ts';
import { parseGoDuration } from '../project-config.ts';
import {
  AuthError,
  badRequest,
  forbidden,
  internal,
  notFound,
  OAuthError,
  unauthorized,
  unprocessable,
  WeakPasswordError,
} from './errors.ts';
import type { Mailer } from './mailer.ts';
import { actionLink } from './mailer.ts';
import { goValuesEncode, isRedirectUrlValid, referrer } from './redirect.ts';
import type { AuthSettings } from './settings.ts';
import {
  type AuthMethod,
  CommitThenThrow,
  issueSession,
  refreshSession,
  type SessionResponse,
} from './tokens.ts';
import {
  checkPassword,
  confirmUser,
  type Db,
  emailIdentityData,
  findUserByEmail,
  findUserById,
  hashPassword,
  insertIdentity,
  insertUser,
  isBanned,
  isConfirmed,
  isDuplicatedEmail,
  mergeMetadata,
  nilInstanceId,
  saveOneTimeToken,
  type UserRow,
  updateProviders,
  userJson,
} from './users.ts';

type Body = Record<string, unknown>;

const adminRoles = new Set(['service_role', 'supabase_admin']);
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const maxPasswordLength = 72;
const duplicateEmailMessage = 'A user with this email address has already been registered';

/** hex(SHA-224(email + otp)), GoTrue's crypto.GenerateTokenHash. */
export function tokenHash(emailOrPhone: string, otp: string): string {
  return createHash('sha224')
    .update(emailOrPhone + otp)
    .digest('hex');
}

export function generateOtp(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += String(randomInt(10));
  return out;
}

const randomPassword = () => randomBytes(48).toString('base64url');

/** checkmail.ValidateFormat's pattern, approximately. */
const emailPattern =
  /^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

function validateEmail(email: unknown): string {
  if (typeof email !== 'string' || email === '')
    throw badRequest('validation_failed', 'An email address is required');
  if (email.length > 255) throw badRequest('validation_failed', 'An email address is too long');
  if (!emailPattern.test(email)) {
    throw badRequest('validation_failed', 'Unable to validate email address: invalid format');
  }
  return email.toLowerCase();
}

const str = (value: unknown): string => (typeof value === 'string' ? value : '');
const obj = (value: unknown): Record<string, unknown> | null =>
  value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;

interface AuthContext {
  claims: JwtClaims;
  user: UserRow;
  sessionId: string | null;
}

/** The message golang-jwt gives for each way a token fails, as GoTrue wraps it. */
function jwtFailureMessage(reason: string): string {
  switch (reason) {
    case 'expired':
      return 'token has invalid claims: token is expired';
    case 'bad_signature':
      return 'token signature is invalid: signature is invalid';
    case 'unsupported_alg':
      return 'token is unverifiable: error while executing keyfunc: unrecognized JWT kid <nil> for algorithm';
    default:
      return 'token is malformed: token contains an invalid number of segments';
  }
}

export class AuthApi {
  constructor(
    private readonly ctx: StackContext,
    private readonly settings: AuthSettings,
    private readonly mailer: Mailer,
  ) {}

  private get config() {
    return this.ctx.config.auth;
  }

  private get autoconfirm(): boolean {
    return !this.config.enableConfirmations;
  }

  // ── plumbing ──────────────────────────────────────────────────────────────────────────────

  async tx<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    const client: pg.PoolClient = await this.ctx.adminPool.connect();
    try {
      await client.query('begin');
      try {
        const result = await fn(client);
        await client.query('commit');
        return result;
      } catch (error) {
        if (error instanceof CommitThenThrow) {
          await client.query('commit');
          throw error.error;
        }
        await client.query('rollback').catch(() => {});
        throw error;
      }
    } finally {
      client.release();
    }
  }

  async body(req: IncomingMessage): Promise<Body> {
    let parsed: unknown;
    try {
      parsed = await readJson(req);
    } catch (error) {
      if (error instanceof HttpError && error.status === 400) {
        throw badRequest('bad_json', `Could not parse request body as JSON: ${error.message}`);
      }
      throw error;
    }
    if (parsed === undefined || parsed === null) return {};
    const asObject = obj(parsed);
    if (!asObject) throw badRequest('bad_json', 'Could not parse request body as JSON: expected an object');
    return asObject;
  }

  private referrer(req: IncomingMessage, url: URL, fromBody?: string): string {
    return referrer(req, url, this.config.siteUrl, this.config.additionalRedirectUrls, fromBody);
  }

  checkPasswordStrength(password: string): void {
    if (password.length > maxPasswordLength) {
      throw badRequest('validation_failed', `Password cannot be longer than ${maxPasswordLength} characters`);
    }
    const messages: string[] = [];
    const reasons: string[] = [];
    const min = this.config.minimumPasswordLength;
    if (password.length < min) {
      reasons.push('length');
      messages.push(`Password should be at least ${min} characters.`);
    }
    const sets = this.settings.requiredCharacters;
    if (sets.some((set) => set !== '' && ![...password].some((c) => set.includes(c)))) {
      reasons.push('characters');
      messages.push(`Password should contain at least one character of each: ${sets.join(', ')}.`);
    }
    if (reasons.length > 0) throw new WeakPasswordError(messages.join(' '), reasons);
  }

  private checkFrequency(sentAt: Date | null): void {
    if (!sentAt) return;
    const waitMs = sentAt.getTime() + this.settings.maxFrequencySeconds * 1000 - Date.now();
    if (waitMs > 0) {
      throw new AuthError(
        429,
        'over_email_send_rate_limit',
        `For security purposes, you can only request this after ${Math.ceil(waitMs / 1000)} seconds.`,
      );
    }
  }

  private isExpired(sentAt: Date | null): boolean {
    return !sentAt || Date.now() > sentAt.getTime() + this.settings.otpExpirySeconds * 1000;
  }

  /** requireAuthentication: Bearer user JWT → claims, user and session. */
  async authenticate(req: IncomingMessage, db: Db): Promise<AuthContext> {
    const claims = this.parseClaims(req);
    if (!claims.sub) throw forbidden('bad_jwt', 'invalid claim: missing sub claim');
    if (!uuidPattern.test(claims.sub)) throw badRequest('bad_jwt', 'invalid claim: sub claim must be a UUID');
    const user = await findUserById(db, claims.sub);
    if (!user) throw forbidden('user_not_found', 'User from sub claim in JWT does not exist');
    let sessionId: string | null = null;
    if (typeof claims.session_id === 'string' && claims.session_id !== '') {
      if (!uuidPattern.test(claims.session_id)) {
        throw forbidden('bad_jwt', 'invalid claim: session_id claim must be a UUID');
      }
      const { rows } = await db.query('select id from auth.sessions where id = $1', [claims.session_id]);
      if (rows.length === 0) {
        throw forbidden('session_not_found', 'Session from session_id claim in JWT does not exist');
      }
      sessionId = claims.session_id;
    }
    if (isBanned(user)) throw forbidden('user_banned', 'User is banned');
    return { claims, user, sessionId };
  }

  parseClaims(req: IncomingMessage): JwtClaims {
    const token = bearerToken(req);
    if (!token) throw unauthorized('no_authorization', 'This endpoint requires a valid Bearer token');
    const result = verifyJwt(token, this.ctx.keys.jwtSecret);
    if (!result.ok) {
      throw forbidden(
        'bad_jwt',
        `invalid JWT: unable to parse or verify signature, ${jwtFailureMessage(result.reason)}`,
      );
    }
    return result.claims;
  }

  requireAdmin(req: IncomingMessage): JwtClaims {
    const claims = this.parseClaims(req);
    if (!adminRoles.has(String(claims.role ?? ''))) throw forbidden('not_admin', 'User not allowed');
    return claims;
  }

  // ── emails ────────────────────────────────────────────────────────────────────────────────

  private async sendConfirmation(
    db: Db,
    req: IncomingMessage,
    user: UserRow,
    redirectTo: string,
  ): Promise<void> {
    this.checkFrequency(user.confirmation_sent_at);
    const otp = generateOtp(this.settings.otpLength);
    const hash = tokenHash(user.email ?? '', otp);
    await this.mailer.send(
      req,
      { ...user, confirmation_token: hash },
      { type: 'signup', otp, tokenHash: hash, redirectTo },
    );
    await db.query(
      'update auth.users set confirmation_token = $2, confirmation_sent_at = now(), updated_at = now() where id = $1',
      [user.id, hash],
    );
    await saveOneTimeToken(db, user.id, 'confirmation_token', user.email ?? '', hash);
  }

  private async sendInvite(db: Db, req: IncomingMessage, user: UserRow, redirectTo: string): Promise<void> {
    const otp = generateOtp(this.settings.otpLength);
    const hash = tokenHash(user.email ?? '', otp);
    await this.mailer.send(req, user, { type: 'invite', otp, tokenHash: hash, redirectTo });
    await db.query(
      `update auth.users set confirmation_token = $2, confirmation_sent_at = now(), invited_at = now(), updated_at = now()
        where id = $1`,
      [user.id, hash],
    );
    await saveOneTimeToken(db, user.id, 'confirmation_token', user.email ?? '', hash);
  }

  private async sendRecoveryOrMagicLink(
    db: Db,
    req: IncomingMessage,
    user: UserRow,
    type: 'recovery' | 'magiclink',
    redirectTo: string,
  ): Promise<void> {
    this.checkFrequency(user.recovery_sent_at);
    const otp = generateOtp(this.settings.otpLength);
    const hash = tokenHash(user.email ?? '', otp);
    await this.mailer.send(req, user, { type, otp, tokenHash: hash, redirectTo });
    await db.query(
      'update auth.users set recovery_token = $2, recovery_sent_at = now(), updated_at = now() where id = $1',
      [user.id, hash],
    );
    await saveOneTimeToken(db, user.id, 'recovery_token', user.email ?? '', hash);
  }

  private async sendEmailChange(
    db: Db,
    req: IncomingMessage,
    user: UserRow,
    newEmail: string,
    redirectTo: string,
  ): Promise<void> {
    this.checkFrequency(user.email_change_sent_at);
    const otpNew = generateOtp(this.settings.otpLength);
    const hashNew = tokenHash(newEmail, otpNew);
    let otpCurrent = '';
    let hashCurrent = '';
    if (this.settings.secureEmailChange && user.email) {
      otpCurrent = generateOtp(this.settings.otpLength);
      hashCurrent = tokenHash(user.email, otpCurrent);
    }
    await this.mailer.send(
      req,
      { ...user, email_change: newEmail },
      {
        type: 'email_change',
        otp: otpCurrent,
        otpNew,
        tokenHash: hashNew,
        tokenHashCurrent: hashCurrent,
        redirectTo,
      },
    );
    await db.query(
      `update auth.users set email_change = $2, email_change_token_new = $3, email_change_token_current = $4,
          email_change_sent_at = now(), email_change_confirm_status = 0, updated_at = now()
        where id = $1`,
      [user.id, newEmail, hashNew, hashCurrent],
    );
    if (hashCurrent)
      await saveOneTimeToken(db, user.id, 'email_change_token_current', user.email ?? '', hashCurrent);
    await saveOneTimeToken(db, user.id, 'email_change_token_new', newEmail, hashNew);
  }

  // ── sign-up, sign-in, tokens ──────────────────────────────────────────────────────────────

  /** The email half of Signup: creates or reuses an unconfirmed user, confirms or mails. */
  private async signupEmail(
    db: Db,
    req: IncomingMessage,
    params: { email: string; password: string; data: Body; redirectTo: string },
  ): Promise<{ user: UserRow; session: SessionResponse | null; fake?: Record<string, unknown> }> {
    let user = await findUserByEmail(db, params.email);
    if (user && isConfirmed(user)) {
      if (this.autoconfirm) throw unprocessable('user_already_exists', 'User already registered');
      const now = new Date().toISOString();
      return {
        user,
        session: null,
        fake: {
          ...userJson(user),
          id: randomUUID(),
          role: '',
          created_at: now,
          updated_at: now,
          confirmation_sent_at: now,
          email_confirmed_at: undefined,
          confirmed_at: undefined,
          last_sign_in_at: undefined,
          identities: [],
          user_metadata: params.data,
          app_metadata: { provider: 'email', providers: ['email'] },
        },
      };
    }
    if (!user) {
      const id = await insertUser(db, {
        email: params.email,
        passwordHash: await hashPassword(db, params.password),
        userMetadata: params.data,
        appMetadata: { provider: 'email', providers: ['email'] },
      });
      await insertIdentity(db, id, 'email', emailIdentityData(id, params.email, params.data));
      user = (await findUserById(db, id))!;
    }
    if (this.autoconfirm) {
      await confirmUser(db, user);
      return { user, session: await issueSession(db, this.ctx, req, user.id, 'password') };
    }
    await this.sendConfirmation(db, req, user, params.redirectTo);
    return { user: (await findUserById(db, user.id))!, session: null };
  }

  async signup(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (!this.config.enableSignup)
      throw unprocessable('signup_disabled', 'Signups not allowed for this instance');
    const body = await this.body(req);
    const email = str(body.email);
    const phone = str(body.phone);
    const password = str(body.password);
    const data = obj(body.data) ?? {};
    if (!email && !phone) {
      if (!this.config.enableAnonymousSignIns) {
        throw unprocessable('anonymous_provider_disabled', 'Anonymous sign-ins are disabled');
      }
      const session = await this.tx(async (db) => {
        const id = await insertUser(db, {
          email: null,
          passwordHash: null,
          userMetadata: data,
          appMetadata: {},
          isAnonymous: true,
        });
        return issueSession(db, this.ctx, req, id, 'anonymous');
      });
      sendJson(res, 200, session);
      return;
    }
    if (password === '') throw badRequest('validation_failed', 'Signup requires a valid password');
    this.checkPasswordStrength(password);
    if (email && phone) {
      throw badRequest(
        'validation_failed',
        'Only an email address or phone number should be provided on signup.',
      );
    }
    if (phone) throw badRequest('phone_provider_disabled', 'Phone signups are disabled');
    if (!this.settings.emailEnabled)
      throw badRequest('email_provider_disabled', 'Email signups are disabled');
    const normalized = validateEmail(email);
    const redirectTo = this.referrer(req, url);
    const result = await this.tx((db) =>
      this.signupEmail(db, req, { email: normalized, password, data, redirectTo }),
    );
    if (result.fake) sendJson(res, 200, result.fake);
    else if (result.session) sendJson(res, 200, result.session);
    else sendJson(res, 200, userJson(result.user));
  }

  async token(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const grantType = url.searchParams.get('grant_type');
    const body = await this.body(req);
    switch (grantType) {
      case 'password':
        sendJson(res, 200, await this.passwordGrant(req, body));
        return;
      case 'refresh_token': {
        const refreshToken = str(body.refresh_token);
        if (!refreshToken) throw new OAuthError('invalid_request', 'refresh_token required');
        sendJson(res, 200, await this.tx((db) => refreshSession(db, this.ctx, refreshToken)));
        return;
      }
      case 'pkce':
        throw notFound('flow_state_not_found', 'invalid flow state, no valid flow state found');
      default:
        throw badRequest('invalid_credentials', 'unsupported_grant_type');
    }
  }

  private async passwordGrant(req: IncomingMessage, body: Body): Promise<SessionResponse> {
    const email = str(body.email);
    const phone = str(body.phone);
    const password = str(body.password);
    if (email && phone) {
      throw badRequest(
        'validation_failed',
        'Only an email address or phone number should be provided on login.',
      );
    }
    if (phone) throw unprocessable('phone_provider_disabled', 'Phone logins are disabled');
    if (!email) throw badRequest('validation_failed', 'missing email or phone');
    if (!this.settings.emailEnabled)
      throw unprocessable('email_provider_disabled', 'Email logins are disabled');
    return this.tx(async (db) => {
      const user = await findUserByEmail(db, email);
      if (!user) throw badRequest('invalid_credentials', 'Invalid login credentials');
      if (isBanned(user)) throw badRequest('user_banned', 'User is banned');
      const ok = await checkPassword(db, user, password);
      let weak: { message: string; reasons: string[] } | undefined;
      if (ok) {
        try {
          this.checkPasswordStrength(password);
        } catch (error) {
          if (error instanceof WeakPasswordError) weak = { message: error.message, reasons: error.reasons };
        }
      }
      if (!ok) throw badRequest('invalid_credentials', 'Invalid login credentials');
      if (!isConfirmed(user)) throw badRequest('email_not_confirmed', 'Email not confirmed');
      await db.query(
        "update auth.identities set last_sign_in_at = now(), updated_at = now() where user_id = $1 and provider = 'email'",
        [user.id],
      );
      const session = await issueSession(db, this.ctx, req, user.id, 'password');
      if (weak) session.weak_password = weak;
      return session;
    });
  }

  // ── the signed-in user ────────────────────────────────────────────────────────────────────

  async getUser(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { user } = await this.authenticate(req, this.ctx.adminPool);
    sendJson(res, 200, userJson(user));
  }

  async updateUser(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const body = await this.body(req);
    const redirectTo = this.referrer(req, url);
    const result = await this.tx(async (db) => {
      const { user, claims, sessionId } = await this.authenticate(req, db);
      let email = str(body.email);
      if (email) email = validateEmail(email);
      const password = typeof body.password === 'string' ? body.password : null;
      if (password !== null && password !== '') this.checkPasswordStrength(password);
      if (
        body.app_metadata !== undefined &&
        body.app_metadata !== null &&
        !adminRoles.has(String(claims.role))
      ) {
        throw forbidden('not_admin', 'Updating app_metadata requires admin privileges');
      }
      if (user.is_anonymous && password && !email && !str(body.phone)) {
        throw unprocessable(
          'validation_failed',
          'Updating password of an anonymous user without an email or phone is not allowed',
        );
      }
      if (
        email &&
        email !== (user.email ?? '') &&
        (await isDuplicatedEmail(db, email, user.aud ?? 'authenticated', user.id))
      ) {
        throw unprocessable('email_exists', duplicateEmailMessage);
      }
      if (str(body.phone) && str(body.phone) !== (user.phone ?? '')) {
        throw badRequest('phone_provider_disabled', 'Unsupported phone provider');
      }
      if (password !== null) {
        if (password !== '' && (await checkPassword(db, user, password))) {
          throw unprocessable('same_password', 'New password should be different from the old password.');
        }
        const hash = password === '' ? '' : await hashPassword(db, password);
        await db.query(
          `update auth.users set encrypted_password = $2, confirmation_token = '', confirmation_sent_at = null,
              recovery_token = '', recovery_sent_at = null, email_change_token_current = '', email_change_token_new = '',
              email_change_sent_at = null, phone_change_token = '', phone_change_sent_at = null,
              reauthentication_token = '', reauthentication_sent_at = null, updated_at = now()
            where id = $1`,
          [user.id, hash],
        );
        await db.query('delete from auth.one_time_tokens where user_id = $1', [user.id]);
        if (sessionId) {
          await db.query('delete from auth.sessions where user_id = $1 and id <> $2', [user.id, sessionId]);
        } else {
          await db.query('delete from auth.sessions where user_id = $1', [user.id]);
        }
      }
      const data = obj(body.data);
      if (data) {
        await db.query('update auth.users set raw_user_meta_data = $2, updated_at = now() where id = $1', [
          user.id,
          JSON.stringify(mergeMetadata(user.raw_user_meta_data, data)),
        ]);
      }
      const appData = obj(body.app_metadata);
      if (appData) {
        await db.query('update auth.users set raw_app_meta_data = $2, updated_at = now() where id = $1', [
          user.id,
          JSON.stringify(mergeMetadata(user.raw_app_meta_data, appData)),
        ]);
      }
      if (email && email !== (user.email ?? '')) {
        const current = (await findUserById(db, user.id))!;
        if (current.is_anonymous && this.autoconfirm) {
          await this.applyEmailChange(db, { ...current, email_change: email });
        } else {
          await this.sendEmailChange(db, req, current, email, redirectTo);
        }
      }
      return (await findUserById(db, user.id))!;
    });
    sendJson(res, 200, userJson(result));
  }

  async logout(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const scope = url.searchParams.get('scope') ?? '';
    if (!['', 'global', 'local', 'others'].includes(scope)) {
      throw badRequest('validation_failed', `Unsupported logout scope "${scope}"`);
    }
    await this.tx(async (db) => {
      const { user, sessionId } = await this.authenticate(req, db);
      if (sessionId && scope === 'local') {
        await db.query('delete from auth.sessions where id = $1', [sessionId]);
      } else if (sessionId && scope === 'others') {
        await db.query('delete from auth.sessions where user_id = $1 and id <> $2', [user.id, sessionId]);
      } else {
        await db.query('delete from auth.sessions where user_id = $1', [user.id]);
        await db.query('delete from auth.refresh_tokens where user_id = $1', [user.id]);
      }
    });
    res.writeHead(204);
    res.end();
  }

  // ── emails asked for by the client ────────────────────────────────────────────────────────

  async recover(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const body = await this.body(req);
    if (!str(body.email)) throw badRequest('validation_failed', 'Password recovery requires an email');
    const email = validateEmail(body.email);
    const redirectTo = this.referrer(req, url);
    await this.tx(async (db) => {
      const user = await findUserByEmail(db, email);
      if (user) await this.sendRecoveryOrMagicLink(db, req, user, 'recovery', redirectTo);
    });
    sendJson(res, 200, {});
  }

  async otp(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const body = await this.body(req);
    const email = str(body.email);
    const phone = str(body.phone);
    const createUser =
      body.create_user === undefined || body.create_user === null ? true : body.create_user === true;
    const data = obj(body.data) ?? {};
    if (email && phone) {
      throw badRequest('validation_failed', 'Only an email address or phone number should be provided');
    }
    if (email && str(body.channel)) {
      throw badRequest('validation_failed', 'Channel should only be specified with Phone OTP');
    }
    if (!createUser && email) {
      const normalized = validateEmail(email);
      if (!(await findUserByEmail(this.ctx.adminPool, normalized))) {
        throw unprocessable('otp_disabled', 'Signups not allowed for otp');
      }
    }
    if (phone) throw badRequest('phone_provider_disabled', 'Unsupported phone provider');
    if (!email) throw badRequest('validation_failed', 'One of email or phone must be set');
    if (!this.settings.emailEnabled)
      throw unprocessable('email_provider_disabled', 'Email logins are disabled');
    const normalized = validateEmail(email);
    const redirectTo = this.referrer(req, url);
    await this.tx(async (db) => {
      let user = await findUserByEmail(db, normalized);
      if (!user || !isConfirmed(user)) {
        if (!this.config.enableSignup)
          throw unprocessable('signup_disabled', 'Signups not allowed for this instance');
        const result = await this.signupEmail(db, req, {
          email: normalized,
          password: randomPassword(),
          data,
          redirectTo,
        });
        if (!this.autoconfirm) return;
        // GoTrue's internal sign-up also leaves a session behind, never handed out
        user = (await findUserById(db, result.user.id))!;
      }
      await this.sendRecoveryOrMagicLink(db, req, user, 'magiclink', redirectTo);
    });
    sendJson(res, 200, {});
  }

  async resend(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const body = await this.body(req);
    const type = str(body.type);
    if (!['signup', 'email_change', 'sms', 'phone_change'].includes(type)) {
      throw badRequest(
        'validation_failed',
        'Missing one of these types: signup, email_change, sms, phone_change',
      );
    }
    if (type === 'sms' || type === 'phone_change') {
      throw badRequest('phone_provider_disabled', 'Unsupported phone provider');
    }
    const email = validateEmail(body.email);
    const redirectTo = this.referrer(req, url);
    await this.tx(async (db) => {
      const user = await findUserByEmail(db, email);
      if (!user) return;
      if (type === 'signup' && !isConfirmed(user)) await this.sendConfirmation(db, req, user, redirectTo);
      if (type === 'email_change' && user.email_change) {
        await this.sendEmailChange(db, req, user, user.email_change, redirectTo);
      }
    });
    sendJson(res, 200, {});
  }

  // ── verify ────────────────────────────────────────────────────────────────────────────────

  private async verifyTokenHash(
    db: Db,
    type: string,
    hash: string,
  ): Promise<{ user: UserRow; type: string }> {
    let column: string;
    switch (type) {
      case 'email':
        column = '(confirmation_token = $1 or recovery_token = $1)';
        break;
      case 'signup':
      case 'invite':
        column = 'confirmation_token = $1';
        break;
      case 'recovery':
      case 'magiclink':
        column = 'recovery_token = $1';
        break;
      case 'email_change':
        column = '(email_change_token_current = $1 or email_change_token_new = $1)';
        break;
      default:
        throw badRequest('validation_failed', 'Invalid email verification type');
    }
    const { rows } = await db.query<{ id: string }>(
      `select id from auth.users where ${column} limit 1 for update`,
      [hash],
    );
    const user = rows[0] ? await findUserById(db, rows[0].id) : null;
    if (!user) throw forbidden('otp_expired', 'Email link is invalid or has expired');
    if (isBanned(user)) throw forbidden('user_banned', 'User is banned');
    let sentAt: Date | null;
    let resolved = type;
    switch (type) {
      case 'email':
        sentAt = user.confirmation_sent_at;
        resolved = 'signup';
        if (user.recovery_token === hash) {
          sentAt = user.recovery_sent_at;
          resolved = 'magiclink';
        }
        break;
      case 'signup':
      case 'invite':
        sentAt = user.confirmation_sent_at;
        break;
      case 'recovery':
      case 'magiclink':
        sentAt = user.recovery_sent_at;
        break;
      default:
        sentAt = user.email_change_sent_at;
    }
    if (this.isExpired(sentAt)) throw forbidden('otp_expired', 'Email link is invalid or has expired');
    return { user, type: resolved };
  }

  private async verifyUserAndToken(
    db: Db,
    type: string,
    email: string,
    hash: string,
  ): Promise<{ user: UserRow; type: string }> {
    let user: UserRow | null;
    if (type === 'email_change') {
      const { rows } = await db.query<{ id: string }>(
        `select id from auth.users
          where instance_id = $4 and is_sso_user = false and aud = 'authenticated'
            and ((lower(email) = $1 and email_change_token_current = $2)
              or (email_change = $1 and email_change_token_new = $2)
              or ($3 = false and lower(email) = $1 and email_change_token_new = $2))
          limit 1`,
        [email, hash, this.settings.secureEmailChange, nilInstanceId],
      );
      user = rows[0] ? await findUserById(db, rows[0].id) : null;
    } else {
      user = await findUserByEmail(db, email);
    }
    if (!user) throw forbidden('otp_expired', 'Token has expired or is invalid');
    if (isBanned(user)) throw forbidden('user_banned', 'User is banned');
    const valid = (expected: string | null, sentAt: Date | null) =>
      Boolean(expected) && !this.isExpired(sentAt) && (hash === expected || `pkce_${hash}` === expected);
    let ok = false;
    let resolved = type;
    switch (type) {
      case 'email':
        if (valid(user.confirmation_token, user.confirmation_sent_at)) {
          ok = true;
          resolved = 'signup';
        } else if (valid(user.recovery_token, user.recovery_sent_at)) {
          ok = true;
          resolved = 'magiclink';
        }
        break;
      case 'signup':
      case 'invite':
        ok = valid(user.confirmation_token, user.confirmation_sent_at);
        break;
      case 'recovery':
      case 'magiclink':
        ok = valid(user.recovery_token, user.recovery_sent_at);
        break;
      case 'email_change':
        ok =
          valid(user.email_change_token_current, user.email_change_sent_at) ||
          valid(user.email_change_token_new, user.email_change_sent_at);
        break;
      case 'sms':
      case 'phone_change':
        ok = false;
        break;
      default:
        throw badRequest('validation_failed', 'Unsupported verification type');
    }
    if (!ok) throw forbidden('otp_expired', 'Token has expired or is invalid');
    return { user, type: resolved };
  }

  private async signupVerify(db: Db, user: UserRow): Promise<void> {
    if (!user.encrypted_password && user.invited_at) {
      await db.query('update auth.users set encrypted_password = $2 where id = $1', [
        user.id,
        await hashPassword(db, randomPassword()),
      ]);
    }
    await confirmUser(db, user);
  }

  private async recoverVerify(db: Db, user: UserRow): Promise<void> {
    await db.query("update auth.users set recovery_token = '', updated_at = now() where id = $1", [user.id]);
    await db.query('delete from auth.one_time_tokens where user_id = $1', [user.id]);
    if (!isConfirmed(user)) await confirmUser(db, user);
  }

  /** ConfirmEmailChange and the identity update around it. */
  private async applyEmailChange(db: Db, user: UserRow): Promise<void> {
    const newEmail = user.email_change ?? '';
    const identity = await db.query<{ id: string }>(
      "select id from auth.identities where user_id = $1 and provider = 'email'",
      [user.id],
    );
    if (identity.rows.length === 0) {
      await insertIdentity(db, user.id, 'email', emailIdentityData(user.id, newEmail, {}, true));
    } else {
      await db.query(
        `update auth.identities set identity_data = identity_data || jsonb_build_object('email', $2::text, 'email_verified', true),
            updated_at = now() where id = $1`,
        [identity.rows[0].id, newEmail],
      );
    }
    await db.query(
      `update auth.users set email = $2, email_change = '', email_change_token_current = '', email_change_token_new = '',
          email_change_confirm_status = 0, is_anonymous = false, updated_at = now()
        where id = $1`,
      [user.id, newEmail],
    );
    await db.query('delete from auth.one_time_tokens where user_id = $1', [user.id]);
    if (!isConfirmed(user)) await confirmUser(db, { ...user, email: newEmail });
    await updateProviders(db, user.id);
  }

  /** emailChangeVerify: null when only the first of two confirmations arrived. */
  private async emailChangeVerify(
    db: Db,
    user: UserRow,
    hash: string,
    token: string,
  ): Promise<UserRow | null> {
    if (
      !this.autoconfirm &&
      this.settings.secureEmailChange &&
      (user.email_change_confirm_status ?? 0) === 0 &&
      user.email
    ) {
      let current = user.email_change_token_current ?? '';
      let next = user.email_change_token_new ?? '';
      if (token === current || hash === current) current = '';
      else if (token === next || hash === next) next = '';
      await db.query(
        `update auth.users set email_change_confirm_status = 1, email_change_token_current = $2,
            email_change_token_new = $3, updated_at = now() where id = $1`,
        [user.id, current, next],
      );
      return null;
    }
    await this.applyEmailChange(db, user);
    return user;
  }

  /** Runs one verification; returns a session, or null for the first half of a double email change. */
  private async runVerification(
    db: Db,
    req: IncomingMessage,
    found: { user: UserRow; type: string },
    hash: string,
    token: string,
  ): Promise<SessionResponse | null> {
    const { user, type } = found;
    switch (type) {
      case 'signup':
      case 'invite':
        await this.signupVerify(db, user);
        break;
      case 'recovery':
      case 'magiclink':
        await this.recoverVerify(db, user);
        break;
      case 'email_change':
        if (!(await this.emailChangeVerify(db, user, hash, token))) return null;
        break;
      default:
        throw badRequest('validation_failed', 'Unsupported verification type');
    }
    await updateProviders(db, user.id);
    const method: AuthMethod = 'otp';
    return issueSession(db, this.ctx, req, user.id, method);
  }

  async verifyGet(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const token = url.searchParams.get('token') ?? '';
    const type = url.searchParams.get('type') ?? '';
    const redirectTo = this.referrer(req, url);
    if (!type) throw badRequest('validation_failed', 'Verify requires a verification type');
    if (!token) throw badRequest('validation_failed', 'Verify requires a token or a token hash');
    let location: string;
    try {
      const session = await this.tx(async (db) => {
        const found = await this.verifyTokenHash(db, type, token);
        return this.runVerification(db, req, found, token, '');
      });
      if (session) {
        const fragment = goValuesEncode({
          access_token: session.access_token,
          token_type: session.token_type,
          expires_in: String(session.expires_in),
          expires_at: String(session.expires_at),
          refresh_token: session.refresh_token,
          sb: '',
          type,
        });
        location = `${redirectTo}#${fragment}`;
      } else {
        location = withFragment(
          redirectTo,
          goValuesEncode({
            message: 'Confirmation link accepted. Please proceed to confirm link sent to the other email',
            sb: '',
          }),
        );
      }
    } catch (error) {
      if (!(error instanceof AuthError)) throw error;
      const oauthError: Record<number, string> = {
        400: 'invalid_request',
        401: 'unauthorized_client',
        403: 'access_denied',
        500: 'server_error',
        503: 'temporarily_unavailable',
      };
      const values: Record<string, string> = {
        error_code: error.code,
        error_description: error.message,
        sb: '',
      };
      if (oauthError[error.status]) values.error = oauthError[error.status];
      location = withFragment(redirectTo, goValuesEncode(values));
    }
    res.writeHead(303, { location, 'content-type': 'text/html; charset=utf-8' });
    res.end(`<a href="${escapeHtml(location)}">See Other</a>.\n\n`);
  }

  async verifyPost(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const body = await this.body(req);
    const type = str(body.type);
    const token = str(body.token);
    let hash = str(body.token_hash);
    const email = str(body.email);
    const phone = str(body.phone);
    if (!type) throw badRequest('validation_failed', 'Verify requires a verification type');
    if ((token === '' && hash === '') || (token !== '' && hash !== '')) {
      throw badRequest('validation_failed', 'Verify requires either a token or a token hash');
    }
    let normalizedEmail = '';
    if (token) {
      if (phone && !email) throw forbidden('otp_expired', 'Token has expired or is invalid');
      if (!email || phone) {
        throw badRequest(
          'validation_failed',
          'Only an email address or phone number should be provided on verify',
        );
      }
      try {
        normalizedEmail = validateEmail(email);
      } catch {
        throw unprocessable('validation_failed', 'Invalid email format');
      }
      hash = tokenHash(normalizedEmail, token);
    } else if (email || phone || str(body.redirect_to) || url.searchParams.get('redirect_to')) {
      // auth-js puts redirectTo in the query; GoTrue reads it from the form, so both count
      if (email || phone || str(body.redirect_to)) {
        throw badRequest('validation_failed', 'Only the token_hash and type should be provided');
      }
    }
    const result = await this.tx(async (db) => {
      const found = token
        ? await this.verifyUserAndToken(db, type, normalizedEmail, hash)
        : await this.verifyTokenHash(db, type, hash);
      return this.runVerification(db, req, found, hash, token);
    });
    if (!result) {
      sendJson(res, 200, {
        msg: 'Confirmation link accepted. Please proceed to confirm link sent to the other email',
        code: '200',
      });
      return;
    }
    sendJson(res, 200, result);
  }

  // ── admin ─────────────────────────────────────────────────────────────────────────────────

  async adminListUsers(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    this.requireAdmin(req);
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
    const pool = this.ctx.adminPool;
    const count = await pool.query<{ n: string }>(
      `select count(*) as n from auth.users where ${where}`,
      args,
    );
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
  }

  private async loadUserParam(db: Db, id: string): Promise<UserRow> {
    if (!uuidPattern.test(id)) throw notFound('validation_failed', 'user_id must be an UUID');
    const user = await findUserById(db, id);
    if (!user) throw notFound('user_not_found', 'User not found');
    return user;
  }

  async adminGetUser(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    this.requireAdmin(req);
    sendJson(res, 200, userJson(await this.loadUserParam(this.ctx.adminPool, id)));
  }

  private banUntil(duration: unknown): Date | null | undefined {
    const raw = str(duration);
    if (!raw) return undefined;
    if (raw === 'none') return null;
    const seconds = parseGoDuration(raw, Number.NaN);
    if (!Number.isFinite(seconds)) {
      throw badRequest(
        'validation_failed',
        `invalid format for ban duration: time: invalid duration "${raw}"`,
      );
    }
    return new Date(Date.now() + seconds * 1000);
  }

  async adminCreateUser(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requireAdmin(req);
    const body = await this.body(req);
    let email = str(body.email);
    const phone = str(body.phone);
    if (!email && !phone) {
      throw badRequest('validation_failed', 'Cannot create a user without either an email or phone');
    }
    if (phone) throw badRequest('validation_failed', 'Phone users are not supported by the local stack');
    email = validateEmail(email);
    if (await isDuplicatedEmail(this.ctx.adminPool, email, 'authenticated')) {
      throw unprocessable('email_exists', duplicateEmailMessage);
    }
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
    const banned = this.banUntil(body.ban_duration);
    const user = await this.tx(async (db) => {
      try {
        const id = await insertUser(db, {
          id: customId || undefined,
          email,
          passwordHash: passwordHash || (await hashPassword(db, password || randomPassword())),
          userMetadata: obj(body.user_metadata) ?? {},
          appMetadata: mergeMetadata(
            { provider: 'email', providers: ['email'] },
            obj(body.app_metadata) ?? {},
          ),
          role: str(body.role) || 'authenticated',
        });
        await insertIdentity(db, id, 'email', emailIdentityData(id, email));
        const created = (await findUserById(db, id))!;
        if (body.email_confirm === true) await confirmUser(db, created);
        if (banned !== undefined)
          await db.query('update auth.users set banned_until = $2 where id = $1', [id, banned]);
        return (await findUserById(db, id))!;
      } catch (error) {
        if (error instanceof AuthError) throw error;
        this.ctx.log('auth', 'admin create user failed', error);
        throw internal('Database error creating new user');
      }
    });
    sendJson(res, 200, userJson(user));
  }

  async adminUpdateUser(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    this.requireAdmin(req);
    const body = await this.body(req);
    let email = str(body.email);
    if (email) email = validateEmail(email);
    if (str(body.phone))
      throw badRequest('validation_failed', 'Phone users are not supported by the local stack');
    const banned = this.banUntil(body.ban_duration);
    const password = typeof body.password === 'string' ? body.password : null;
    if (password !== null) this.checkPasswordStrength(password);
    const user = await this.tx(async (db) => {
      const user = await this.loadUserParam(db, id);
      if (str(body.role))
        await db.query('update auth.users set role = $2 where id = $1', [id, str(body.role)]);
      if (body.email_confirm === true) await confirmUser(db, user);
      if (password !== null) {
        await db.query(
          `update auth.users set encrypted_password = $2, confirmation_token = '', recovery_token = '',
              email_change_token_current = '', email_change_token_new = '', updated_at = now() where id = $1`,
          [id, await hashPassword(db, password)],
        );
        await db.query('delete from auth.one_time_tokens where user_id = $1', [id]);
        await db.query('delete from auth.sessions where user_id = $1', [id]);
      }
      if (email) {
        if (email !== user.email && (await isDuplicatedEmail(db, email, user.aud ?? 'authenticated', id))) {
          throw unprocessable('email_exists', duplicateEmailMessage);
        }
        const identity = await db.query<{ id: string }>(
          "select id from auth.identities where user_id = $1 and provider = 'email'",
          [id],
        );
        const verified = body.email_confirm === true;
        if (identity.rows.length === 0) {
          await insertIdentity(db, id, 'email', emailIdentityData(id, email, {}, verified));
        } else {
          await db.query(
            `update auth.identities set identity_data = identity_data || jsonb_build_object('email', $2::text,
                'email_verified', $3::boolean), updated_at = now() where id = $1`,
            [identity.rows[0].id, email, verified],
          );
        }
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
  }

  async adminDeleteUser(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    this.requireAdmin(req);
    const body = await this.body(req);
    await this.tx(async (db) => {
      const user = await this.loadUserParam(db, id);
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
        await db.query('delete from auth.sessions where user_id = $1', [id]);
      } else {
        await db.query('delete from auth.users where id = $1', [id]);
      }
    });
    sendJson(res, 200, {});
  }

  async invite(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    this.requireAdmin(req);
    const body = await this.body(req);
    const email = validateEmail(body.email);
    const redirectTo = this.referrer(req, url);
    const user = await this.tx(async (db) => {
      let user = await findUserByEmail(db, email);
      if (user && isConfirmed(user)) throw unprocessable('email_exists', duplicateEmailMessage);
      if (!user) {
        const data = obj(body.data) ?? {};
        const id = await insertUser(db, {
          email,
          passwordHash: null,
          userMetadata: data,
          appMetadata: { provider: 'email', providers: ['email'] },
        });
        await insertIdentity(db, id, 'email', emailIdentityData(id, email));
        user = (await findUserById(db, id))!;
      }
      await this.sendInvite(db, req, user, redirectTo);
      return (await findUserById(db, user.id))!;
    });
    sendJson(res, 200, userJson(user));
  }

  async generateLink(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    this.requireAdmin(req);
    const body = await this.body(req);
    const email = validateEmail(body.email);
    let type = str(body.type);
    let password = str(body.password);
    const data = obj(body.data) ?? {};
    let redirectTo = this.referrer(req, url);
    const bodyRedirect = str(body.redirect_to);
    if (isRedirectUrlValid(this.config.siteUrl, this.config.additionalRedirectUrls, bodyRedirect)) {
      redirectTo = bodyRedirect;
    }
    const existing = await findUserByEmail(this.ctx.adminPool, email);
    if (!existing) {
      if (type === 'magiclink') {
        type = 'signup';
        password = randomPassword();
      } else if (['recovery', 'email_change_current', 'email_change_new'].includes(type)) {
        throw notFound('user_not_found', 'User with this email not found');
      }
    }
    if (type === 'signup' && !existing) {
      if (!password) throw badRequest('validation_failed', 'Signup requires a valid password');
      this.checkPasswordStrength(password);
    }
    const otp = generateOtp(this.settings.otpLength);
    const hash = tokenHash(email, otp);
    const result = await this.tx(async (db) => {
      let user = existing ? await findUserById(db, existing.id, true) : null;
      const create = async (passwordHash: string | null) => {
        const id = await insertUser(db, {
          email,
          passwordHash,
          userMetadata: data,
          appMetadata: { provider: 'email', providers: ['email'] },
        });
        await insertIdentity(db, id, 'email', emailIdentityData(id, email, type === 'signup' ? data : {}));
        return (await findUserById(db, id))!;
      };
      let linkToken = hash;
      let linkType = type;
      switch (type) {
        case 'magiclink':
        case 'recovery':
          await db.query(
            'update auth.users set recovery_token = $2, recovery_sent_at = now() where id = $1',
            [user!.id, hash],
          );
          await saveOneTimeToken(db, user!.id, 'recovery_token', email, hash);
          break;
        case 'invite':
          if (user && isConfirmed(user)) throw unprocessable('email_exists', duplicateEmailMessage);
          if (!user) user = await create(null);
          await db.query(
            'update auth.users set confirmation_token = $2, confirmation_sent_at = now(), invited_at = now() where id = $1',
            [user.id, hash],
          );
          await saveOneTimeToken(db, user.id, 'confirmation_token', email, hash);
          break;
        case 'signup':
          if (user) {
            if (isConfirmed(user)) throw unprocessable('email_exists', duplicateEmailMessage);
            await db.query('update auth.users set raw_user_meta_data = $2 where id = $1', [
              user.id,
              JSON.stringify(mergeMetadata(user.raw_user_meta_data, data)),
            ]);
          } else {
            user = await create(await hashPassword(db, password));
          }
          await db.query(
            'update auth.users set confirmation_token = $2, confirmation_sent_at = now() where id = $1',
            [user.id, hash],
          );
          await saveOneTimeToken(db, user.id, 'confirmation_token', email, hash);
          break;
        case 'email_change_current':
        case 'email_change_new': {
          if (!this.settings.secureEmailChange && type === 'email_change_current') {
            throw badRequest(
              'validation_failed',
              'Enable secure email change to generate link for current email',
            );
          }
          const newEmail = validateEmail(body.new_email);
          if (await isDuplicatedEmail(db, newEmail, user!.aud ?? 'authenticated', user!.id)) {
            throw unprocessable('email_exists', duplicateEmailMessage);
          }
          const current = type === 'email_change_current' ? hash : (user!.email_change_token_current ?? '');
          const next =
            type === 'email_change_new' ? tokenHash(newEmail, otp) : (user!.email_change_token_new ?? '');
          await db.query(
            `update auth.users set email_change_sent_at = now(), email_change = $2, email_change_confirm_status = 0,
                email_change_token_current = $3, email_change_token_new = $4 where id = $1`,
            [user!.id, newEmail, current, next],
          );
          if (current) await saveOneTimeToken(db, user!.id, 'email_change_token_current', email, current);
          if (next) await saveOneTimeToken(db, user!.id, 'email_change_token_new', newEmail, next);
          linkToken = type === 'email_change_current' ? current : next;
          linkType = 'email_change';
          break;
        }
        default:
          throw badRequest('validation_failed', `Invalid email action link type requested: ${type}`);
      }
      return { user: (await findUserById(db, user!.id))!, linkToken, linkType };
    });
    sendJson(res, 200, {
      ...userJson(result.user),
      action_link: actionLink(this.ctx, result.linkToken, result.linkType, redirectTo),
      email_otp: otp,
      hashed_token: hash,
      verification_type: type,
      redirect_to: redirectTo,
    });
  }

  // ── misc ──────────────────────────────────────────────────────────────────────────────────

  settingsJson(): Record<string, unknown> {
    const providers = [
      'apple',
      'azure',
      'bitbucket',
      'discord',
      'facebook',
      'snapchat',
      'figma',
      'fly',
      'github',
      'gitlab',
      'google',
      'keycloak',
      'kakao',
      'linkedin',
      'linkedin_oidc',
      'notion',
      'spotify',
      'slack',
      'slack_oidc',
      'workos',
      'twitch',
      'twitter',
      'zoom',
    ];
    const external: Record<string, boolean> = { anonymous_users: this.config.enableAnonymousSignIns };
    for (const name of providers) external[name] = false;
    external.email = this.settings.emailEnabled;
    external.phone = false;
    return {
      external,
      disable_signup: !this.config.enableSignup,
      mailer_autoconfirm: this.autoconfirm,
      phone_autoconfirm: false,
      sms_provider: '',
      saml_enabled: false,
      saml_private_key_next_configured: false,
      passkeys_enabled: false,
    };
  }
}

/** url.Parse + setting Fragment: replaces any fragment the redirect URL had. */
function withFragment(url: string, fragment: string): string {
  const hash = url.indexOf('#');
  return `${hash >= 0 ? url.slice(0, hash) : url}#${fragment}`;
}
