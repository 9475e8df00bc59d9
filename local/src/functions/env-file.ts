import { existsSync, readFileSync } from 'node:fs';

/**
 * Parses a dotenv file the way `supabase functions serve --env-file` reads it (godotenv):
 * `KEY=value`, optional `export `, `#` comments (also after an unquoted value when preceded
 * by whitespace), single quotes taken literally, double quotes with `\n`, `\t`, `\"`, `\\`
 * escapes and spanning lines, and `${VAR}` / `$VAR` expansion in unquoted and double-quoted
 * values from keys defined earlier in the file.
 */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const src = text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  const expand = (value: string): string =>
    value.replace(/\\?\$(\{(\w+)\}|(\w+))/g, (match, _all, braced, bare) => {
      if (match.startsWith('\\')) return match.slice(1);
      const key = (braced ?? bare) as string;
      return out[key] ?? '';
    });
  let i = 0;
  while (i < src.length) {
    const lineEnd = src.indexOf('\n', i) === -1 ? src.length : src.indexOf('\n', i);
    const line = src.slice(i, lineEnd);
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) {
      i = lineEnd + 1;
      continue;
    }
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*[=:]\s*/.exec(line);
    if (!match) {
      i = lineEnd + 1;
      continue;
    }
    const key = match[1];
    let pos = i + match[0].length;
    const quote = src[pos];
    if (quote === '"' || quote === "'") {
      pos++;
      let value = '';
      let closed = false;
      while (pos < src.length) {
        const ch = src[pos];
        if (quote === '"' && ch === '\\' && pos + 1 < src.length) {
          const next = src[pos + 1];
          value +=
            next === 'n' ? '\n' : next === 't' ? '\t' : next === 'r' ? '\r' : next === '$' ? '\\$' : next;
          pos += 2;
          continue;
        }
        if (ch === quote) {
          closed = true;
          pos++;
          break;
        }
        value += ch;
        pos++;
      }
      if (!closed) throw new Error(`unterminated ${quote} quote in value of ${key}`);
      out[key] = quote === '"' ? expand(value) : value;
      const rest = src.indexOf('\n', pos);
      i = rest === -1 ? src.length : rest + 1;
      continue;
    }
    let value = src.slice(pos, lineEnd);
    const comment = /\s#/.exec(value);
    if (comment) value = value.slice(0, comment.index);
    out[key] = expand(value.trim());
    i = lineEnd + 1;
  }
  return out;
}

/** Reads an env file; a missing file is an empty set of secrets, as the CLI treats it. */
export function readEnvFile(path: string): Record<string, string> {
  if (!existsSync(path)) return {};
  try {
    return parseEnvFile(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message}`);
  }
}
