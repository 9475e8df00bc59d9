/**
 * Templates against hostile record fields, property-based (fast-check):
 * - `{{...}}` inside user data is never interpreted again: SQL `dispatch.render` (the in-app and
 *   SQL path) and the TypeScript renderer of the functions (email, webhooks) insert it literally;
 * - HTML from record fields is escaped in email html (html mode) and never becomes markup;
 * - the React components (<Inbox />, in jsdom) show hostile titles and messages as text, and an
 *   action URL with a script scheme never becomes a live `javascript:` link.
 * The SQL half needs SUPABASE_DB_URL (npm test sets it); the rest runs anywhere.
 */
import '../../react/test/support/dom.ts';
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { cleanup, render as renderUi, screen } from '@testing-library/react';
import fc from 'fast-check';
import pg from 'pg';
import { createElement } from 'react';
import { escapeHtml, render } from '../../edge-functions/src/templates/render.ts';
import { DispatchProvider, Inbox } from '../../react/src/index.ts';
import { liveDouble, notification } from '../../react/test/support/live-double.ts';
import { Scoreboard } from './support.ts';

const board = new Scoreboard('templates');
const RUNS = 200;

/** Strings an attacker would put in a record field: placeholders, markup, quotes, unicode. */
const hostile = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom(
    '{{secret}}',
    '{{ secret }}',
    '{{a.b}}',
    '}}{{',
    '{{{{secret}}}}',
    '<script>alert(1)</script>',
    '"><img src=x onerror=alert(1)>',
    "' onmouseover='alert(1)",
    '&lt;already&gt;',
    '\u2028{{secret}}\u0000',
  ),
  fc
    .array(fc.constantFrom('{{', '}}', 'secret', '<', '>', '&', '"', "'", ' ', 'a.b', '\\'), {
      maxLength: 12,
    })
    .map((parts) => parts.join('')),
);
const record = fc.record({ a: hostile, b: hostile });
// the secret a hostile value tries to pull in by naming it
const secretValue = 'TOP-SECRET-VALUE';

after(() => board.write());

describe('templates: user data is data', () => {
  test('TypeScript renderer: {{...}} in values is inserted literally (text mode)', () => {
    let breached = false;
    try {
      fc.assert(
        fc.property(record, ({ a, b }) => {
          const out = render('A{{a}}B{{ b }}C', { a, b, secret: secretValue });
          assert.equal(out, `A${a}B${b}C`);
        }),
        { numRuns: RUNS },
      );
    } catch (error) {
      breached = true;
      throw error;
    } finally {
      board.count('TS renderer re-interprets {{...}} in data', RUNS, breached);
    }
  });

  test('TypeScript renderer, html mode: values never become markup', () => {
    let breached = false;
    try {
      fc.assert(
        fc.property(record, ({ a, b }) => {
          const out = render('<p title="{{a}}">{{b}}</p>', { a, b, secret: secretValue }, { mode: 'html' });
          assert.equal(out, `<p title="${escapeHtml(a)}">${escapeHtml(b)}</p>`);
          const inner = out.slice('<p title="'.length, -'</p>'.length);
          assert.ok(!/[<>]/.test(inner.replace('">', '')), `markup from data: ${out}`);
          assert.ok(!out.includes(secretValue));
        }),
        { numRuns: RUNS },
      );
    } catch (error) {
      breached = true;
      throw error;
    } finally {
      board.count('html from a record field is not escaped (TS renderer)', RUNS, breached);
    }
  });

  test('SQL dispatch.render: {{...}} in values is inserted literally', async (t) => {
    const dbUrl = process.env.SUPABASE_DB_URL;
    if (!dbUrl) return t.skip('needs SUPABASE_DB_URL (the postgres role) with the core installed');
    const db = new pg.Client({ connectionString: dbUrl });
    await db.connect();
    try {
      const samples = fc
        .sample(record, RUNS)
        .map((r) => ({ ...r, a: r.a.replaceAll('\u0000', ''), b: r.b.replaceAll('\u0000', '') }));
      const { rows } = await db.query<{ i: number; out: string }>(
        `select (x.ordinality - 1)::int as i,
                dispatch.render('A{{a}}B{{ b }}C', jsonb_build_object('a', x.a, 'b', x.b, 'secret', $3::text)) as out
           from unnest($1::text[], $2::text[]) with ordinality as x(a, b, ordinality)`,
        [samples.map((s) => s.a), samples.map((s) => s.b), secretValue],
      );
      let breached = false;
      try {
        for (const row of rows) assert.equal(row.out, `A${samples[row.i].a}B${samples[row.i].b}C`);
      } catch (error) {
        breached = true;
        throw error;
      } finally {
        board.count('SQL render re-interprets {{...}} in data', rows.length, breached);
      }
    } finally {
      await db.end();
    }
  });

  test('<Inbox />: hostile titles and messages are text; script URLs are not live links', async () => {
    const payloads = [
      '<img src=x onerror="globalThis.pwned=1">',
      '<script>globalThis.pwned=1</script>',
      '"><svg onload=alert(1)>',
      '{{secret}}',
    ];
    const urls = [
      'javascript:globalThis.pwned=1',
      ' JavaScript:alert(1)',
      'jav\tascript:alert(1)',
      'vbscript:msgbox(1)',
      'data:text/html,<script>alert(1)</script>',
    ];
    const double = liveDouble({
      status: 'live',
      counters: { unread_notifications: { value: urls.length, seq: 1 } },
      notifications: urls.map((url, i) =>
        notification(`n${i}`, {
          title: payloads[i % payloads.length],
          message: payloads[(i + 1) % payloads.length],
          actionUrl: url,
          actionLabel: payloads[(i + 2) % payloads.length],
        }),
      ),
    });
    const view = renderUi(createElement(DispatchProvider, { client: double.client }, createElement(Inbox)));
    try {
      const root = view.container;
      for (const tag of ['img', 'script', 'svg', 'iframe']) {
        await board.attack(`a record field injects <${tag}> into the inbox`, () =>
          assert.equal(root.querySelector(tag), null, root.innerHTML.slice(0, 400)),
        );
      }
      await board.attack('hostile title shown as text', () => {
        assert.ok(screen.getAllByText(payloads[0]).length > 0);
      });
      for (const link of Array.from(root.querySelectorAll('a'))) {
        const href = link.getAttribute('href') ?? '';
        await board.attack(`action URL ${JSON.stringify(href.slice(0, 30))} is a live script link`, () => {
          const scheme = /^\s*([a-z][a-z0-9+.-]*):/i.exec(href.replace(/[\t\n\r]/g, ''))?.[1]?.toLowerCase();
          assert.ok(
            scheme === undefined || scheme === 'http' || scheme === 'https' || scheme === 'mailto',
            `a link with scheme ${scheme}: ${href}`,
          );
        });
      }
      assert.equal((globalThis as { pwned?: unknown }).pwned, undefined);
    } finally {
      cleanup();
    }
  });
});
