/**
 * Regression (issue 21, attack suite): an action URL rendered from record fields with a script or
 * data scheme never becomes the inbox item's link; relative, http(s) and mailto URLs do.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { safeActionUrl } from '../src/inbox.tsx';

test('safeActionUrl keeps relative, http(s) and mailto URLs and drops every other scheme', () => {
  for (const ok of [
    '/orders/1',
    '#order-3',
    'orders/1?x=a:b',
    'https://shop.example/o/1',
    'HTTP://x.example',
    'mailto:a@b.example',
  ])
    assert.equal(safeActionUrl(ok), ok, ok);
  for (const bad of [
    'javascript:alert(1)',
    ' JavaScript:alert(1)',
    'jav\tascript:alert(1)',
    '\u0001javascript:alert(1)',
    'vbscript:msgbox(1)',
    'data:text/html,<script>alert(1)</script>',
    'file:///etc/passwd',
  ])
    assert.equal(safeActionUrl(bad), null, JSON.stringify(bad));
  assert.equal(safeActionUrl(null), null);
  assert.equal(safeActionUrl(''), null);
});
