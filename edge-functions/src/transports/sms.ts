/**
 * SMS through Twilio's Messages API (https://www.twilio.com/docs/messaging/api/message-resource):
 * a form-encoded POST of `To`, `From` (or `MessagingServiceSid` when `from` is one, `MG…`) and `Body`
 * to `/2010-04-01/Accounts/<sid>/Messages.json` with basic auth `<sid>:<auth token>`. Settings:
 * `from`, and `apiKeySecret` (default `TWILIO_AUTH_TOKEN`): the secret holding the auth token, with
 * the account SID in `TWILIO_ACCOUNT_SID`, or both in one value as `<account sid>:<auth token>`.
 * `TWILIO_API_URL` overrides https://api.twilio.com (tests). Twilio has no idempotency key, so a
 * worker killed between send and record may send one SMS twice.
 */
import type { Delivery, Transport, TransportContext } from '../delivery/types.ts';
import { resolveAddress } from './address.ts';
import { field, TEST_PREFIX, truncate } from './message.ts';
import { NotSendableError, requireSecret, sendRequest, setting, unlessNotSendable } from './send.ts';

export const TWILIO_API_URL_ENV = 'TWILIO_API_URL';
export const TWILIO_DEFAULT_URL = 'https://api.twilio.com';
/** Twilio's limit for one message body. */
const MAX_BODY = 1600;

export function smsBody(delivery: Delivery): string {
  const { content } = delivery;
  const body =
    field(content, 'text') ??
    [
      field(content, 'title') ?? field(content, 'subject'),
      field(content, 'message'),
      field(content, 'actionUrl'),
    ]
      .filter(Boolean)
      .join('\n');
  if (body === '') throw new NotSendableError(`sms: event ${delivery.eventId} has no text, title or message`);
  return truncate(content.test ? `${TEST_PREFIX}${body}` : body, MAX_BODY);
}

export function twilioForm(delivery: Delivery, context: TransportContext): URLSearchParams {
  const from = field(delivery.content, 'from') ?? setting(context, 'from');
  if (!from) throw new NotSendableError('sms: no sender: set transports.sms.from in the config');
  const form = new URLSearchParams({ To: resolveAddress(delivery, context, 'sms') });
  if (/^MG[0-9a-f]{32}$/i.test(from)) form.set('MessagingServiceSid', from);
  else form.set('From', from);
  form.set('Body', smsBody(delivery));
  return form;
}

/** The account SID and auth token: `<sid>:<token>` in one secret, or the token with `TWILIO_ACCOUNT_SID`. */
export function twilioCredentials(context: TransportContext): { account: string; token: string } {
  const secret = requireSecret(
    context,
    setting(context, 'apiKeySecret', 'TWILIO_AUTH_TOKEN'),
    'sms (twilio)',
  );
  const colon = secret.indexOf(':');
  if (colon > 0) return { account: secret.slice(0, colon), token: secret.slice(colon + 1) };
  return { account: requireSecret(context, 'TWILIO_ACCOUNT_SID', 'sms (twilio)'), token: secret };
}

const sid = (body: unknown) => {
  const value = (body as { sid?: unknown } | null)?.sid;
  return typeof value === 'string' ? value : undefined;
};

export const sms: Transport = {
  name: 'sms',
  destination: (_delivery, context) => `sms:${setting(context, 'provider', 'twilio')}`,
  send: (delivery, context) =>
    unlessNotSendable(() => {
      const provider = setting(context, 'provider', 'twilio');
      if (provider !== 'twilio')
        throw new NotSendableError(`sms: unknown provider "${provider}" (known: twilio)`);
      const { account, token } = twilioCredentials(context);
      const base = (context.secret(TWILIO_API_URL_ENV) || TWILIO_DEFAULT_URL).replace(/\/+$/, '');
      return sendRequest(
        context,
        `${base}/2010-04-01/Accounts/${encodeURIComponent(account)}/Messages.json`,
        {
          method: 'POST',
          headers: {
            authorization: `Basic ${btoa(`${account}:${token}`)}`,
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: twilioForm(delivery, context).toString(),
        },
        { messageId: sid },
      );
    }),
};
