/**
 * A content template compiled to a SQL expression: what `dispatch.render(template, data)` returns, as
 * a `concat` of the template's literal parts and `data #>> '{path}'` lookups, cut at the length cap by
 * `dispatch.render_fit`.
 *
 * Why: an expander renders its in-app texts for every occurrence, and `dispatch.render` parses the
 * template with two regular expressions and reads `render_max_length` from the settings table on
 * every call: about a fifth of the drain's CPU for an event with two templated texts (bench/RESULTS.md,
 * "Session 6"). The template is known when the SQL is generated, so it is parsed here once; the cap is
 * read once per expander call (`dispatch.render_cap()`).
 *
 * Same output as `dispatch.render`, vector for vector (sql/test/render-compiled.test.ts runs the
 * render vectors through both): one left-to-right pass, a missing value or null renders '', values
 * as `#>>` prints them, a result longer than the cap is cut and ends with ' [truncated]'. A template
 * where a `{{...}}` holds a non-ASCII character is left to `dispatch.render`, whose `\s` follows
 * glibc's `iswspace` (some Unicode spaces, not others); every other template compiles.
 */
import { literal } from './util.ts';

// dispatch.render's pattern (010_registry.sql) with ASCII whitespace: `\s` of its regex for the
// characters this compiler handles (space, \t, \n, \v, \f, \r).
const PLACEHOLDER = /\{\{[ \t\n\v\f\r]*([A-Za-z0-9_.]+)[ \t\n\v\f\r]*\}\}/g;
// a `{{...}}` holding a non-ASCII character: whether it is a placeholder depends on the server's
// iswspace, so such a template is rendered by dispatch.render
const NON_ASCII_IN_BRACES = /\{\{[^{}]*[\u0080-\u{10FFFF}][^{}]*\}\}/u;

/**
 * The SQL text of `template` rendered against the jsonb expression `data`, capped at the integer
 * expression `cap` (a plpgsql variable holding `dispatch.render_cap()`).
 */
export function compiledTemplate(template: string, data: string, cap: string): string {
  if (NON_ASCII_IN_BRACES.test(template)) return `dispatch.render(${literal(template)}, ${data})`;
  const parts: string[] = [];
  let last = 0;
  let lookups = 0;
  for (const m of template.matchAll(PLACEHOLDER)) {
    if (m.index! > last) parts.push(literal(template.slice(last, m.index)));
    const path = m[1].split('.').map(literal).join(', ');
    // concat() skips nulls: a missing value renders '', as in dispatch.render
    parts.push(`${data} #>> array[${path}]::text[]`);
    lookups++;
    last = m.index! + m[0].length;
  }
  if (last < template.length || parts.length === 0) parts.push(literal(template.slice(last)));
  const text = lookups === 0 ? parts.join(' || ') : `concat(${parts.join(', ')})`;
  return `dispatch.render_fit(${text}, ${cap})`;
}
