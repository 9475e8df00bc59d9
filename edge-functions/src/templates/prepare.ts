/**
 * One receipt's content, rendered once before its first send (the worker stores it, secrets
 * redacted) or for a preview. Sources, in order of precedence:
 * - variables: the occurrence's record (`{{column}}`), `old`, `actor`, `event` ({ id, operation,
 *   occurredAt }), `recipient` ({ userId, address }); then, for module events, the send variables
 *   (send: `generateSendVariables`; preview: `sampleData().variables`) and `prepareTemplateAssigns`;
 * - fields: the config's `content` (subject, title, message, actionUrl, actionLabel, html, text,
 *   payload rendered recursively), then the module's `subject` / `from` / `replyTo` (final text) and
 *   its html / text templates.
 * Send mode never falls back to sample data: a failing `generateSendVariables` throws ContentError,
 * and the receipt fails with its reason. A missing variable renders '' (and is logged) when sending,
 * and is a ContentError in preview.
 */
import {
  ContentError,
  type ContentRequest,
  type PrepareContent,
  type PreparedContent,
  type RenderedContent,
} from '../delivery/types.ts';
import {
  AUTH_SECRET_NAMES,
  authModule,
  HOOK_SECRET_ENV,
  isAuthEvent,
  openAuthSecrets,
} from '../modules/auth.ts';
import {
  type EventModule,
  eventModule,
  type ModuleContext,
  type ResolvedChannel,
  type TemplateSource,
} from '../modules/types.ts';
import { escapeHtml, MissingVariableError, type RenderOptions, render } from './render.ts';

/** Fields of `content` rendered as text; `html` is rendered in html mode, `payload` recursively. */
const TEXT_FIELDS = [
  'subject',
  'title',
  'message',
  'actionUrl',
  'actionLabel',
  'text',
  'from',
  'replyTo',
] as const;

export interface PrepareExtras {
  /** Preview only: stand-ins for the send variables (a module's `sampleData().variables`). */
  sampleVariables?: Record<string, unknown>;
  /** Where missing variables are reported when sending (default: console.warn). */
  log?: (message: string) => void;
  /** Reads a template file (default: Deno.readTextFile). */
  readTemplate?: (url: URL) => Promise<string>;
}

export const prepareContent: PrepareContent = (request) => prepare(request);

export async function prepare(request: ContentRequest, extras: PrepareExtras = {}): Promise<PreparedContent> {
  const { event, occurrence, recipient, mode } = request;
  const module = eventModule(event.module);
  const channel: ResolvedChannel = { ...request.channel };
  const record = occurrence.newRecord ?? occurrence.oldRecord ?? {};
  const ctx: ModuleContext = {
    eventId: event.id,
    mode,
    record,
    old: occurrence.oldRecord,
    actor: occurrence.actor,
    recipient,
    variables: {},
  };

  const secretNames = new Set<string>(module?.secret ?? []);
  if (mode === 'send') {
    ctx.variables = await sendVariables(module, ctx, secretNames);
  } else {
    ctx.variables = { ...(extras.sampleVariables ?? {}) };
  }
  const assigns = module?.prepareTemplateAssigns
    ? await callModule('prepareTemplateAssigns', () => module.prepareTemplateAssigns!(ctx, channel))
    : {};

  const variables: Record<string, unknown> = {
    ...record,
    old: occurrence.oldRecord,
    actor: occurrence.actor,
    event: { id: event.id, operation: occurrence.operation, occurredAt: occurrence.createdAt },
    recipient,
    ...ctx.variables,
    ...assigns,
  };
  const log = extras.log ?? ((message: string) => console.warn(message));
  const options = (field: string, html = false): RenderOptions => ({
    mode: html ? 'html' : 'text',
    missing: mode === 'preview' ? 'error' : 'empty',
    onMissing: (path) =>
      log(`dispatch: ${event.id} ${channel.name} ${field}: {{${path}}} has no value (rendered empty)`),
  });
  const renderField = (field: string, template: string, html = false) => {
    try {
      return render(template, variables, options(field, html));
    } catch (error) {
      if (error instanceof MissingVariableError) throw new ContentError(`${field}: ${error.message}`);
      throw error;
    }
  };

  const content: RenderedContent = {};
  const source = event.content ?? {};
  for (const field of TEXT_FIELDS) {
    if (typeof source[field] === 'string') content[field] = renderField(field, source[field] as string);
  }
  if (typeof source.html === 'string') content.html = renderField('html', source.html, true);
  if (source.payload !== undefined)
    content.payload = renderPayload(source.payload, (t, path) => renderField(path, t));

  if (module) {
    const templates = module.templates ?? {};
    const read = extras.readTemplate ?? ((url: URL) => Deno.readTextFile(url));
    if (templates.html !== undefined)
      content.html = renderField('html', await templateText(templates.html, read), true);
    if (templates.text !== undefined)
      content.text = renderField('text', await templateText(templates.text, read));
    for (const field of ['subject', 'from', 'replyTo'] as const) {
      const value = module[field];
      if (value === undefined) continue;
      const text = typeof value === 'function' ? await callModule(field, () => value(ctx, channel)) : value;
      if (typeof text === 'string') content[field] = text;
    }
  }
  if (
    channel.transport === 'in_app' &&
    content.type === undefined &&
    typeof event.metadata?.type === 'string'
  ) {
    content.type = event.metadata.type;
  }
  return { content, secrets: secretValues(secretNames, { ...ctx.variables, ...assigns }) };
}

/** The send path: what the caller has (an auth event's opened tokens), then the module's real values. */
async function sendVariables(
  module: EventModule | null,
  ctx: ModuleContext,
  secretNames: Set<string>,
): Promise<Record<string, unknown>> {
  let vars: Record<string, unknown> = {};
  if (isAuthEvent(ctx.eventId) && module !== authModule && typeof ctx.record.sealed === 'string') {
    // a config module restyling an auth email gets the hook's tokens, as secrets
    try {
      vars = { ...openAuthSecrets(ctx.record, Deno.env.get(HOOK_SECRET_ENV)) };
    } catch (error) {
      throw new ContentError(`auth email: ${(error as Error).message}`);
    }
    for (const name of AUTH_SECRET_NAMES) secretNames.add(name);
  }
  if (!module?.generateSendVariables) return vars;
  let result: Record<string, unknown> | Error;
  try {
    result = await module.generateSendVariables(ctx, { ...vars });
  } catch (error) {
    throw new ContentError(`generateSendVariables: ${(error as Error)?.message ?? String(error)}`);
  }
  if (result instanceof Error) throw new ContentError(`generateSendVariables: ${result.message}`);
  if (result === null || typeof result !== 'object') {
    throw new ContentError('generateSendVariables: must return an object of variables (or throw)');
  }
  return { ...vars, ...result };
}

/** Runs a module function; its failure is the receipt's (named) failure, never a fallback. */
async function callModule<T>(name: string, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof ContentError) throw error;
    throw new ContentError(`${name}: ${(error as Error)?.message ?? String(error)}`);
  }
}

const templateCache = new Map<string, string>();

async function templateText(source: TemplateSource, read: (url: URL) => Promise<string>): Promise<string> {
  if (typeof source === 'string') return source;
  const cached = templateCache.get(source.href);
  if (cached !== undefined) return cached;
  let text: string;
  try {
    text = await read(source);
  } catch (error) {
    throw new ContentError(`template ${source.href}: ${(error as Error).message}`);
  }
  templateCache.set(source.href, text);
  return text;
}

/** Strings anywhere inside the payload are rendered (text mode); keys and other values stay. */
function renderPayload(
  value: unknown,
  renderText: (template: string, path: string) => string,
  path = 'payload',
): unknown {
  if (typeof value === 'string') return renderText(value, path);
  if (Array.isArray(value)) return value.map((v, i) => renderPayload(v, renderText, `${path}[${i}]`));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => [
        k,
        renderPayload(v, renderText, `${path}.${k}`),
      ]),
    );
  }
  return value;
}

/**
 * The values to store redacted: each secret variable as sent, html-escaped and URL-encoded (how it may
 * appear in a rendered field). Values shorter than 4 characters are not redacted (they would blank out
 * unrelated text).
 */
function secretValues(names: Set<string>, variables: Record<string, unknown>): string[] {
  const out = new Set<string>();
  for (const name of names) {
    const value = variables[name];
    if (value === null || value === undefined || typeof value === 'object') continue;
    const text = String(value);
    if (text.length < 4) continue;
    out.add(text);
    out.add(escapeHtml(text));
    out.add(encodeURIComponent(text));
  }
  return [...out].sort((a, b) => b.length - a.length);
}
