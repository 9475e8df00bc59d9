import { parseError } from '../errors.ts';

/**
 * The lexical layer of the PostgREST URL grammar (ApiRequest/QueryParams.hs): names, quoted names,
 * JSON paths and top-level lists, shared by the select, filter and order parsers beside it.
 * Parsing only builds a tree of names and values; nothing under parse/ touches SQL.
 */

export interface JsonStep {
  arrow: '->' | '->>';
  key: string;
  /** The key is an integer (array index). */
  index: boolean;
}

export interface Field {
  name: string;
  path: JsonStep[];
}

export class Scanner {
  pos = 0;
  constructor(
    readonly text: string,
    readonly what: string,
  ) {}
  get done(): boolean {
    return this.pos >= this.text.length;
  }
  peek(n = 0): string {
    return this.text[this.pos + n] ?? '';
  }
  startsWith(s: string): boolean {
    return this.text.startsWith(s, this.pos);
  }
  eat(s: string): boolean {
    if (this.startsWith(s)) {
      this.pos += s.length;
      return true;
    }
    return false;
  }
  expect(s: string): void {
    if (!this.eat(s)) this.fail(`"${s}"`);
  }
  fail(expected: string): never {
    const at = this.pos;
    throw parseError(
      `"failed to parse ${this.what} (${this.text})" (line 1, column ${at + 1})`,
      `unexpected ${this.done ? 'end of input' : `"${this.peek()}"`} expecting ${expected}`,
    );
  }
}

/** `"quoted"` (backslash escapes) or a bare identifier (letters, digits, `_`, `$`, space, `-` not before `>`). */
export function readName(s: Scanner): string {
  if (s.peek() === '"') return readQuoted(s);
  const start = s.pos;
  while (!s.done) {
    const c = s.peek();
    if (c === '-' && s.peek(1) === '>') break;
    if (/[,.:()!"]/.test(c)) break;
    s.pos++;
  }
  if (s.pos === start) s.fail('a name');
  return s.text.slice(start, s.pos).trim();
}

function readQuoted(s: Scanner): string {
  s.expect('"');
  let out = '';
  while (!s.done && s.peek() !== '"') {
    if (s.peek() === '\\' && s.pos + 1 < s.text.length) s.pos++;
    out += s.peek();
    s.pos++;
  }
  s.expect('"');
  return out;
}

export function readJsonPath(s: Scanner): JsonStep[] {
  const path: JsonStep[] = [];
  while (s.startsWith('->')) {
    let arrow: JsonStep['arrow'] = '->>';
    if (!s.eat('->>')) {
      s.eat('->');
      arrow = '->';
    }
    if (s.peek() === '"') {
      path.push({ arrow, key: readQuoted(s), index: false });
      continue;
    }
    const start = s.pos;
    if (s.peek() === '-') s.pos++;
    while (!s.done && !/[,.:()!"]/.test(s.peek()) && !s.startsWith('->')) s.pos++;
    const key = s.text.slice(start, s.pos);
    if (!key) s.fail('a json key');
    path.push({ arrow, key, index: /^-?\d+$/.test(key) });
  }
  return path;
}

export function readField(s: Scanner): Field {
  return { name: readName(s), path: readJsonPath(s) };
}

/** Splits `a,b,(c,d),"e,f"` on top-level commas, honouring quotes, parentheses and braces. */
export function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '(' || c === '{' || c === '[') depth++;
    else if (c === ')' || c === '}' || c === ']') {
      depth--;
      if (depth < 0) throw parseError(`"failed to parse logic tree (${text})"`, `unexpected "${c}"`);
    } else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/** A double-quoted list item or value loses its quotes and backslash escapes. */
export function unquoteValue(item: string): string {
  if (item.length >= 2 && item.startsWith('"') && item.endsWith('"')) {
    return item.slice(1, -1).replace(/\\(.)/g, '$1');
  }
  return item;
}
