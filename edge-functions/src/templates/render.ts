/**
 * `{{var}}` / `{{a.b}}` interpolation, the TypeScript twin of SQL `dispatch.render`
 * (sql/core/010_registry.sql). Both pass the same vectors (sql/test/fixtures/render-vectors.json):
 * - a placeholder is `{{`, optional whitespace, a path of `[A-Za-z0-9_.]`, optional whitespace, `}}`;
 *   anything else (`{{a b}}`, `{{}}`) stays literal text;
 * - the path is split on `.`; on an array an all-digit element is an index (`items.0`);
 * - a string renders as itself, `null` as '', other values as PostgreSQL prints jsonb
 *   (`{"a": 1, "b": [1, 2]}`, keys ordered by length then bytes; numbers in plain decimal);
 * - one left-to-right pass: an inserted value is never scanned again (no template injection, no
 *   code execution: there is no expression syntax at all);
 * - the output is capped at `maxLength` characters (code points, like SQL `length`): a longer result
 *   is cut and ends with ' [truncated]'.
 * What only TypeScript adds: `html` mode escapes inserted values (& < > " '), the template itself is
 * trusted markup; `text` mode (the default, and SQL's only mode) inserts them raw. A missing variable
 * (no such key, index or object on the path) renders '' like SQL, or throws
 * {@link MissingVariableError} with `missing: 'error'` (the preview's mode).
 */

/** glibc's iswspace set, which PostgreSQL's `\s` uses under a UTF-8 locale (hosted and local). */
const SPACE = '[\\t\\n\\v\\f\\r \\u1680\\u2000-\\u2006\\u2008-\\u200a\\u2028\\u2029\\u205f\\u3000]';
const PLACEHOLDER = new RegExp(`\\{\\{${SPACE}*([A-Za-z0-9_.]+)${SPACE}*\\}\\}`, 'g');
const MARKER = ' [truncated]';
/** The default of the SQL setting `render_max_length`. */
export const DEFAULT_MAX_LENGTH = 100_000;
const INT_MAX = 2_147_483_647;

export type RenderMode = 'text' | 'html';

export interface RenderOptions {
  mode?: RenderMode;
  /** `empty` (default, as SQL): a missing variable renders ''; `error`: throws. */
  missing?: 'empty' | 'error';
  /** Called for each missing variable in `empty` mode (the worker logs it). */
  onMissing?: (path: string) => void;
  /** Output cap in characters; default 100000 like `render_max_length`. At least 12. */
  maxLength?: number;
}

/** A `{{path}}` with nothing behind it, in `missing: 'error'` mode. */
export class MissingVariableError extends Error {
  override name = 'MissingVariableError';
  constructor(readonly path: string) {
    super(`template variable {{${path}}} has no value`);
  }
}

export function render(template: string, variables: unknown, options: RenderOptions = {}): string {
  const cap = Math.max(options.maxLength ?? DEFAULT_MAX_LENGTH, MARKER.length);
  const html = options.mode === 'html';
  const pieces: string[] = [];
  let total = 0;
  let last = 0;
  for (const match of template.matchAll(PLACEHOLDER)) {
    const literal = template.slice(last, match.index);
    pieces.push(literal);
    total += codePoints(literal);
    last = match.index + match[0].length;
    // like SQL: stop inserting once over the cap (a huge value can never blow up the output)
    if (total > cap) break;
    const found = lookup(variables, match[1]);
    if (!found.found) {
      if (options.missing === 'error') throw new MissingVariableError(match[1]);
      options.onMissing?.(match[1]);
    }
    let text = found.found ? valueText(found.value) : '';
    if (html) text = escapeHtml(text);
    pieces.push(text);
    total += codePoints(text);
  }
  if (total <= cap) {
    const rest = template.slice(last);
    pieces.push(rest);
    total += codePoints(rest);
  }
  const out = pieces.join('');
  if (total <= cap) return out;
  return leftCodePoints(out, cap - MARKER.length) + MARKER;
}

/** The placeholder paths of a template, in order, repeats kept. */
export function placeholders(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1]);
}

/** A path's value, like jsonb `#>>`: `found` is false when a key, index or container is absent. */
export function lookup(variables: unknown, path: string): { found: boolean; value?: unknown } {
  let current: unknown = variables;
  for (const step of path.split('.')) {
    if (Array.isArray(current)) {
      if (!/^[0-9]+$/.test(step) || Number(step) > INT_MAX) return { found: false };
      const index = Number(step);
      if (index >= current.length) return { found: false };
      current = current[index];
    } else if (current !== null && typeof current === 'object') {
      if (!Object.hasOwn(current, step)) return { found: false };
      current = (current as Record<string, unknown>)[step];
    } else {
      return { found: false };
    }
    if (current === undefined) return { found: false };
  }
  return { found: true, value: current };
}

/** A value as `#>>` prints it: strings raw, null '', the rest as jsonb text. */
export function valueText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  return jsonbText(value);
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}
const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

const encoder = new TextEncoder();

function jsonbText(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') return numericText(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (Array.isArray(value)) return `[${value.map((v) => jsonbText(v ?? null)).join(', ')}]`;
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    return jsonbText((value as { toJSON(): unknown }).toJSON());
  }
  if (typeof value === 'object') {
    // jsonb orders keys by byte length, then bytewise
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined && typeof v !== 'function')
      .map(([k, v]) => ({ k, bytes: encoder.encode(k), v }))
      .sort((a, b) => a.bytes.length - b.bytes.length || compareBytes(a.bytes, b.bytes));
    return `{${entries.map((e) => `${JSON.stringify(e.k)}: ${jsonbText(e.v)}`).join(', ')}}`;
  }
  return 'null';
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/** PostgreSQL prints numeric in plain decimal (1e21 → 1000000000000000000000, 1e-7 → 0.0000001). */
function numericText(n: number): string {
  if (!Number.isFinite(n)) return 'null';
  const s = String(n);
  const e = s.indexOf('e');
  if (e < 0) return s;
  const negative = n < 0;
  const [int, frac = ''] = s.slice(negative ? 1 : 0, e).split('.');
  const exponent = Number(s.slice(e + 1));
  const digits = int + frac;
  const point = int.length + exponent;
  let out: string;
  if (point <= 0) out = `0.${'0'.repeat(-point)}${digits}`;
  else if (point >= digits.length) out = digits + '0'.repeat(point - digits.length);
  else out = `${digits.slice(0, point)}.${digits.slice(point)}`;
  return negative ? `-${out}` : out;
}

const SURROGATE_PAIR = /[\uD800-\uDBFF][\uDC00-\uDFFF]/g;

function codePoints(s: string): number {
  if (s.length === 0) return 0;
  const pairs = s.match(SURROGATE_PAIR);
  return s.length - (pairs ? pairs.length : 0);
}

function leftCodePoints(s: string, n: number): string {
  let units = 0;
  for (let count = 0; count < n && units < s.length; count++) {
    const c = s.charCodeAt(units);
    units += c >= 0xd800 && c <= 0xdbff && units + 1 < s.length ? 2 : 1;
  }
  return s.slice(0, units);
}
