import { sendJson } from '../http.ts';
import { type Handler, obj } from './context.ts';
import { sendEmail } from './emails.ts';
import {
  emailAppMetadata,
  findUserByEmail,
  findUserById,
  insertEmailUser,
  isConfirmed,
  userJson,
} from './users.ts';
import { emailExists, validateEmail } from './validate.ts';

/** POST /invite (invite.go, admin only): creates the user unless it exists unconfirmed, and mails the invite. */
export const invite: Handler = async (auth, req, res, url) => {
  auth.requireAdmin(req);
  const body = await auth.body(req);
  const email = validateEmail(body.email);
  const redirectTo = auth.referrer(req, url);
  const user = await auth.tx(async (db) => {
    let user = await findUserByEmail(db, email);
    if (user && isConfirmed(user)) throw emailExists();
    if (!user) {
      const data = obj(body.data) ?? {};
      user = await insertEmailUser(db, {
        email,
        passwordHash: null,
        userMetadata: data,
        appMetadata: emailAppMetadata(),
      });
    }
    await sendEmail(auth, db, req, user, 'invite', redirectTo);
    return (await findUserById(db, user.id))!;
  });
  sendJson(res, 200, userJson(user));
};
