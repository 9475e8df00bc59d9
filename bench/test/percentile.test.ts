/** The suite's one percentile rule (bench/support/report.ts): nearest rank. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { percentile } from '../support/report.ts';

test('percentile: nearest rank, the ceil(p/100 · n)-th smallest', () => {
  const sixty = Array.from({ length: 60 }, (_, i) => 60 - i); // 60..1, unsorted on purpose
  assert.equal(percentile(sixty, 50), 30);
  assert.equal(percentile(sixty, 99), 60);
  assert.equal(percentile(sixty, 100), 60);
  const threeHundred = Array.from({ length: 300 }, (_, i) => i + 1);
  assert.equal(percentile(threeHundred, 99), 297);
  assert.equal(percentile(threeHundred, 0), 1);
  assert.equal(percentile([7], 50), 7);
  assert.ok(Number.isNaN(percentile([], 50)));
});
