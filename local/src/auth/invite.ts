import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from '../http.ts';
import { type AuthContext, obj } from './context.ts';
import { sendInvite } from './emails.ts';
import {
  emailIdentityData,
  findUserByEmail,
  findUserById,
  insertIdentity,
  insertUser,
  isConfirmed,
  userJson,
} from './users.ts';
import { emailExists, validateEmail } from './validate.ts';

/** POST /invite (invite.go, admin only): creates the user unless it exists unconfirmed, and mails the invite. */
export async function invite(
  auth: AuthContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  auth.requireAdmin(req);
  const body = await auth.body(req);
  const email = validateEmail(body.email);
  const redirectTo = auth.referrer(req, url);
  const user = await auth.tx(async (db) => {
    let user = await findUserByEmail(db, email);
    if (user && isConfirmed(user)) throw emailExists();
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
    await sendInvite(auth, db, req, user, redirectTo);
    return (await findUserById(db, user.id))!;
  });
  sendJson(res, 200, userJson(user));
}
