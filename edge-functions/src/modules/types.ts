/**
 * The event-module contract (AshDispatch "level 3"): a TypeScript module per event, named by
 * `events.<id>.module` in dispatch.config.ts and imported whole by the generated registry
 * (`import * as moduleN from '...'`), so these are the module's named exports. docs/config.md
 * ("Event modules") documents it for users.
 *
 * Two paths: `sampleData()` feeds the preview and never reads the database or makes tokens;
 * `generateSendVariables(ctx, vars)` runs only when sending and returns the real values (tokens,
 * signed URLs) or fails, which fails the receipt with its reason. Nothing falls back from one path
 * to the other.
 */
import type { Recipient } from '../delivery/types.ts';

/** A channel a module returns from `channels(ctx)`; `name` defaults to `<transport>:<audience>`. */
export interface ModuleChannel {
  name?: string;
  transport: string;
  audience?: string;
  delaySeconds?: number;
}

/** The channel a module's functions receive (the registry's shape: name and audience filled in). */
export interface ResolvedChannel {
  name: string;
  transport: string;
  audience: string;
  delaySeconds: number;
}

/** What a module's functions see. */
export interface ModuleContext {
  eventId: string;
  /** `send`: a real occurrence, after generateSendVariables; `preview`: sample data or a real record, no tokens. */
  mode: 'send' | 'preview';
  /** The occurrence's new row (or the old one for a delete), or the sample's record. */
  record: Record<string, unknown>;
  old: Record<string, unknown> | null;
  actor: string | null;
  /** Set when rendering for one receipt (not in channels() / recipients()). */
  recipient: Recipient | null;
  /** The values of generateSendVariables (send), or `sampleData().variables` (preview). */
  variables: Record<string, unknown>;
}

/** A recipient from `recipients(ctx, channel)`: a user, an address (email, URL, phone), or both. */
export interface ModuleRecipient {
  userId?: string | null;
  address?: string | null;
}

/** What `sampleData()` returns: a stand-in for an occurrence. */
export interface SampleData {
  record: Record<string, unknown>;
  old?: Record<string, unknown> | null;
  actor?: string | null;
  /** Stand-ins for what generateSendVariables makes (e.g. `resetUrl: 'https://example.test/reset?sample'`). */
  variables?: Record<string, unknown>;
}

/** A template beside the module: the text itself, or a file URL (`new URL('./x.html', import.meta.url)`). */
export type TemplateSource = string | URL;

type Maybe<T> = T | Promise<T>;
type PerChannel<T> = T | ((ctx: ModuleContext, channel: ResolvedChannel) => Maybe<T>);

export interface EventModule {
  /** The event id (checked against the config's key when present). */
  id?: string;
  /** The channels of one occurrence. Needed when the config gives the event no channels. */
  channels?(ctx: ModuleContext): Maybe<ModuleChannel[]>;
  /** Who receives one channel of one occurrence. Needed when the config gives the event no channels. */
  recipients?(ctx: ModuleContext, channel: ResolvedChannel): Maybe<ModuleRecipient[]>;
  /** Email subject: final text (not rendered again, so data inside it cannot pull in variables). */
  subject?: PerChannel<string>;
  /** Email sender, e.g. `'Shop <noreply@shop.example>'`; default: the email transport's `from`. */
  from?: PerChannel<string>;
  replyTo?: PerChannel<string>;
  /** The variables the templates see (merged over record, old, actor, event and send variables). */
  prepareTemplateAssigns?(ctx: ModuleContext, channel: ResolvedChannel): Maybe<Record<string, unknown>>;
  /** `{{var}}` templates: html (values escaped) and text (raw). */
  templates?: { html?: TemplateSource; text?: TemplateSource };
  /** The preview path: a stand-in occurrence. Never reads the database, never makes tokens. */
  sampleData?(): Maybe<SampleData>;
  /**
   * The send path: real values (tokens, signed URLs) merged into the variables. To stop the send,
   * throw (or return an Error): the receipt fails with the message. `vars` holds what the caller
   * already has (e.g. the Auth hook's token), so a module makes a token only when it is missing.
   */
  generateSendVariables?(
    ctx: ModuleContext,
    vars: Record<string, unknown>,
  ): Maybe<Record<string, unknown> | Error>;
  /** Names of variables whose values are secret: sent as they are, stored as `[redacted]`. */
  secret?: readonly string[];
}

/** The module of a registry event, or null; throws when the export is not a module object. */
export function eventModule(module: unknown): EventModule | null {
  if (module === null || module === undefined) return null;
  if (typeof module !== 'object' && typeof module !== 'function') {
    throw new TypeError('an event module must be a module object (its exports)');
  }
  const m = module as EventModule & { default?: unknown };
  // `export default { ... }` works as well as named exports
  if (m.default && typeof m.default === 'object' && !('recipients' in m) && !('sampleData' in m)) {
    return m.default as EventModule;
  }
  return m;
}

/** The channel as the module functions receive it. */
export function resolveChannel(channel: ModuleChannel): ResolvedChannel {
  const audience = channel.audience ?? 'module';
  return {
    name: channel.name ?? `${channel.transport}:${audience}`,
    transport: channel.transport,
    audience,
    delaySeconds: channel.delaySeconds ?? 0,
  };
}

/**
 * A module's sample as an occurrence stand-in: `{ record, old?, actor?, variables? }`, or (AshDispatch
 * style) any other object, which is then the record itself.
 */
export async function sampleOf(module: EventModule): Promise<SampleData> {
  const raw = (await module.sampleData?.()) as unknown;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return { record: {} };
  const sample = raw as Partial<SampleData>;
  if (sample.record !== null && typeof sample.record === 'object') return sample as SampleData;
  return { record: raw as Record<string, unknown> };
}
