/**
 * The zod shapes of the config: structure only (which keys, which types). What the values mean
 * (names that must exist, columns of the right table, content a transport needs) is checked by the
 * module of each part: audience.ts, condition.ts, event.ts, counter.ts.
 * The messages given here are the ones the user reads, so they are written for the user.
 */
import { z } from 'zod';
import { OPERATIONS, type TransportName } from './types.ts';

const SECRET_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
/** A non-empty list of values (`in`, `notIn`, or a list standing for `in`). */
export const scalars = z.array(scalar).min(1, 'must list at least one value');
const secretName = z.string().regex(SECRET_NAME_RE, 'must be the name of a secret (letters, digits, _)');
const delay = z.union([
  z.number().int('must be a whole number of seconds').nonnegative('must not be negative'),
  z
    .string()
    .regex(/^\d+(?:\.\d+)?\s*(?:s|m|h|d)$/, 'must be seconds or a duration like "30s", "5m", "2h", "1d"'),
]);
const recipientName = z.string().optional();

/** The settings of each transport, under `transports`. */
export const transportShapes: Record<TransportName, z.ZodType> = {
  in_app: z.strictObject({ enabled: z.boolean().optional() }),
  email: z.strictObject({
    provider: z.enum(['resend', 'smtp', 'postmark', 'sendgrid']).optional(),
    from: z.string().min(3, 'must be a sender like "Shop <noreply@shop.example>"'),
    replyTo: z.string().optional(),
    apiKeySecret: secretName.optional(),
    emailColumn: z.string().optional(),
  }),
  webhook: z.strictObject({
    signingSecret: secretName.optional(),
    timeoutMs: z.number().int().positive().optional(),
  }),
  slack: z.strictObject({ defaultUrlSecret: secretName.optional() }),
  discord: z.strictObject({ defaultUrlSecret: secretName.optional() }),
  sms: z.strictObject({
    provider: z.enum(['twilio', 'vonage']).optional(),
    from: z.string().optional(),
    apiKeySecret: secretName.optional(),
    phoneColumn: z.string().optional(),
  }),
};

/** Each audience form, once the shorthands (`'user_id'`, `['order_id', ...]`) are expanded. */
export const audienceShapes = {
  column: z.strictObject({ column: z.string() }),
  where: z.strictObject({
    where: z.record(z.string(), z.unknown()),
    from: z.string().optional(),
    userColumn: z.string().optional(),
  }),
  chain: z.strictObject({ chain: z.array(z.unknown()) }),
  function: z.strictObject({ function: z.string(), args: z.array(z.string()).optional() }),
  system: z.strictObject({ system: z.array(z.unknown()).min(1, 'must list at least one recipient') }),
};

/** One recipient of a system audience. Slack and Discord URLs are secrets, so only their names. */
export const recipientShapes = {
  email: z.strictObject({ email: z.email('must be an email address'), name: recipientName }),
  webhook: z.strictObject({ webhook: z.url('must be an http(s) URL'), name: recipientName }),
  sms: z.strictObject({
    sms: z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 phone number like "+15551234567"'),
    name: recipientName,
  }),
  slack: z.strictObject({ slack: z.strictObject({ urlSecret: secretName }), name: recipientName }),
  discord: z.strictObject({ discord: z.strictObject({ urlSecret: secretName }), name: recipientName }),
};

/** A hop of a chain written as an object: `{ table, column, key? }`. */
export const hopShape = z.strictObject({ table: z.string(), column: z.string(), key: z.string().optional() });

/** `{ fromRow: 'region' }` in an audience filter. */
export const fromRowShape = z.strictObject({ fromRow: z.string() });

/** `from` / `to` of a `changed` condition: one value or a non-empty list. */
export const changeValuesShape = z.union([scalar, z.array(scalar).min(1)]);

export const channelShape = z.strictObject({
  transport: z.string({ error: 'transport is required' }),
  audience: z.string({ error: 'audience is required' }),
  delay: delay.optional(),
});

export const contentShape = z.strictObject({
  subject: z.string().optional(),
  title: z.string().optional(),
  message: z.string().optional(),
  actionUrl: z.string().optional(),
  actionLabel: z.string().optional(),
  html: z.string().optional(),
  text: z.string().optional(),
  payload: z.unknown().optional(),
});

const metadataShape = z
  .object({
    type: z.enum(['info', 'success', 'warning', 'error']).optional(),
    category: z.string().optional(),
    userConfigurable: z.boolean().optional(),
  })
  .catchall(z.unknown());

const operationsShape = z.union([z.enum(OPERATIONS), z.array(z.enum(OPERATIONS)).min(1)], {
  error: 'must be "insert", "update", "delete" or a non-empty list of them',
});

export const eventShape = z.strictObject({
  table: z.string().optional(),
  key: z.string().optional(),
  on: operationsShape.optional(),
  when: z.unknown().optional(),
  channels: z.array(z.unknown()).optional(),
  content: z.unknown().optional(),
  metadata: metadataShape.optional(),
  strict: z.boolean().optional(),
  module: z.string().optional(),
  description: z.string().optional(),
});

export const counterShape = z.strictObject({
  table: z.string({ error: 'table is required' }),
  key: z.string().optional(),
  where: z.unknown().optional(),
  scope: z.unknown(),
  invalidates: z.array(z.union([z.string(), z.array(z.union([z.string(), z.number()]))])).optional(),
  sharded: z.union([z.boolean(), z.number().int().min(1).max(1024)]).optional(),
  description: z.string().optional(),
});

/** A counter's scope: per user (a column or chain of the row) or one audience's topic. */
export const scopeShapes = {
  user: z.strictObject({ user: z.unknown() }),
  audience: z.strictObject({ audience: z.string() }),
};

/** The whole config; its sections are checked one by one afterwards. */
export const configShape = z.strictObject({
  users: z
    .strictObject({ table: z.string().optional(), id: z.string().optional(), email: z.string().optional() })
    .optional(),
  transports: z.record(z.string(), z.unknown(), { error: 'transports is required (an object)' }),
  audiences: z.record(z.string(), z.unknown(), { error: 'audiences is required (an object)' }),
  admin: z.string().optional(),
  events: z.record(z.string(), z.unknown(), { error: 'events is required (an object)' }),
  counters: z.record(z.string(), z.unknown()).optional(),
  output: z
    .strictObject({
      sdk: z.string().optional(),
      registry: z.string().optional(),
      migrations: z.string().optional(),
      lock: z.string().optional(),
    })
    .optional(),
});

/** The keys an object shape allows: the candidates for "did you mean" on an unknown key. */
export function keysOf(shape: z.ZodType): string[] {
  const fields = (shape as unknown as { shape?: Record<string, unknown> }).shape;
  return fields ? Object.keys(fields) : [];
}
