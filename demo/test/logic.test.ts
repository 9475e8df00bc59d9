/** The demo's logic that is not markup: settings, preference rule, links, statuses, errors, formats. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readEnv } from '../src/env.ts';
import { linkError, safeNext } from '../src/lib/auth-links.ts';
import { formatDateTime, formatDelay, formatPrice, transportLabel } from '../src/lib/format.ts';
import { FunctionError, functionError } from '../src/lib/function-error.ts';
import { isEnabled, type PreferenceRow } from '../src/lib/preferences.ts';
import { currentStatuses, requeueSummary } from '../src/lib/receipt-status.ts';

describe('readEnv', () => {
  it('reads the URL and the anon key, without a trailing slash', () => {
    assert.deepEqual(
      readEnv({ VITE_SUPABASE_URL: 'http://127.0.0.1:54321/ ', VITE_SUPABASE_ANON_KEY: 'k' }),
      {
        supabaseUrl: 'http://127.0.0.1:54321',
        supabaseAnonKey: 'k',
      },
    );
  });
  it('names every variable that is missing or wrong', () => {
    assert.throws(() => readEnv({}), /VITE_SUPABASE_URL is not set.*VITE_SUPABASE_ANON_KEY is not set/);
    assert.throws(
      () => readEnv({ VITE_SUPABASE_URL: 'localhost:54321', VITE_SUPABASE_ANON_KEY: 'k' }),
      /VITE_SUPABASE_URL is not an http\(s\) URL: "localhost:54321"/,
    );
  });
});

describe('isEnabled mirrors dispatch.preference_enabled', () => {
  const shipped = { id: 'order.shipped', category: 'orders' };
  const row = (p: Partial<PreferenceRow> & { enabled: boolean }): PreferenceRow => ({
    eventId: null,
    category: null,
    transport: null,
    ...p,
  });
  it('is on without preferences', () => {
    assert.equal(isEnabled([], shipped, 'email'), true);
  });
  it('an event preference for one transport leaves the others on', () => {
    const prefs = [row({ eventId: 'order.shipped', transport: 'email', enabled: false })];
    assert.equal(isEnabled(prefs, shipped, 'email'), false);
    assert.equal(isEnabled(prefs, shipped, 'in_app'), true);
    assert.equal(isEnabled(prefs, { id: 'order.created', category: 'orders' }, 'email'), true);
  });
  it('the most specific preference wins: event over category over everything', () => {
    const prefs = [
      row({ enabled: false }),
      row({ category: 'orders', enabled: true }),
      row({ eventId: 'order.shipped', transport: 'email', enabled: false }),
    ];
    assert.equal(isEnabled(prefs, shipped, 'email'), false, 'event + transport');
    assert.equal(isEnabled(prefs, shipped, 'in_app'), true, 'category');
    assert.equal(isEnabled(prefs, { id: 'product.listed', category: 'catalog' }, 'in_app'), false, 'all');
  });
  it('within one level, naming the transport wins over every transport', () => {
    const prefs = [
      row({ eventId: 'order.shipped', enabled: false }),
      row({ eventId: 'order.shipped', transport: 'in_app', enabled: true }),
    ];
    assert.equal(isEnabled(prefs, shipped, 'in_app'), true);
    assert.equal(isEnabled(prefs, shipped, 'email'), false);
  });
  it('a category preference does not touch events of other categories', () => {
    const prefs = [row({ category: 'catalog', enabled: false })];
    assert.equal(isEnabled(prefs, shipped, 'email'), true);
  });
});

describe('auth links', () => {
  it('next: only paths of this app', () => {
    assert.equal(safeNext('/admin/receipts?status=failed'), '/admin/receipts?status=failed');
    assert.equal(safeNext(null), '/shop');
    assert.equal(safeNext('https://evil.test/'), '/shop');
    assert.equal(safeNext('//evil.test/'), '/shop');
  });
  it("a failed link's error from the fragment", () => {
    assert.equal(
      linkError(
        '#error=access_denied&error_code=otp_expired&error_description=Email+link+is+invalid+or+has+expired',
      ),
      'Email link is invalid or has expired',
    );
    assert.equal(linkError('#access_token=x&type=recovery'), null);
    assert.equal(linkError(''), null);
  });
});

describe('receipt statuses', () => {
  it('follow the latest listing for the receipts a trigger made, and only those', () => {
    const now = currentStatuses(
      [
        { id: 'a', status: 'pending' },
        { id: 'b', status: 'sent' },
        { status: 'pending' }, // a dry run's receipt has no id
      ],
      [
        { id: 'a', status: 'sent' },
        { id: 'z', status: 'failed' },
      ],
    );
    assert.deepEqual(
      [...now],
      [
        ['a', 'sent'],
        ['b', 'sent'],
      ],
    );
  });
  it('a requeue summary says what was sent again and what was left alone', () => {
    assert.equal(requeueSummary({ requeued: ['a', 'b'], skipped: [] }), '2 sent again.');
    assert.equal(
      requeueSummary({ requeued: [], skipped: [{ status: 'sent' }, { status: null }] }),
      '0 sent again; 2 left alone (sent, not found).',
    );
  });
});

describe('function errors', () => {
  it('a 403 says the server refused, admins only', () => {
    const error = functionError('dispatch-trigger', 403, {
      error: { code: 'forbidden', message: 'admins only' },
    });
    assert.ok(error instanceof FunctionError);
    assert.equal(error.message, 'dispatch-trigger: refused by the server, admins only');
    assert.equal(error.status, 403);
    assert.equal(error.code, 'forbidden');
  });
  it("other errors carry the function's message, or the status", () => {
    assert.equal(
      functionError('dispatch-preview', 422, {
        error: { code: 'content_error', message: 'no value for {{x}}' },
      }).message,
      'dispatch-preview: no value for {{x}}',
    );
    assert.equal(
      functionError('dispatch-preview', 502, 'not json').message,
      'dispatch-preview: failed with HTTP 502',
    );
  });
});

describe('formats', () => {
  it('prices, delays and transports', () => {
    assert.equal(formatPrice(1250), '$12.50');
    assert.equal(formatDelay(0), 'at once');
    assert.equal(formatDelay(5), 'after 5 s');
    assert.equal(formatDelay(90), 'after 1 min 30 s');
    assert.equal(transportLabel('in_app'), 'In-app');
    assert.equal(transportLabel('carrier_pigeon'), 'carrier_pigeon');
  });
  it('times: the time alone today, the date too before', () => {
    const now = new Date(2026, 11, 2, 15, 0, 0);
    const today = formatDateTime(new Date(2026, 11, 2, 13, 47, 12).toISOString(), now);
    const before = formatDateTime(new Date(2026, 10, 30, 9, 5, 0).toISOString(), now);
    assert.match(today, /^01:47:12\sPM$/);
    assert.match(before, /^Nov 30, 09:05\sAM$/);
    assert.equal(formatDateTime(null), '');
  });
});
