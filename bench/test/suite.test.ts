/**
 * Keeps `npm run bench` runnable: the quick suite (`bench/run.ts --quick`, every measure of
 * bench/measures.ts at smoke size) must finish and leave, for each measure, a report of the shape
 * bench/support/report.ts defines, its CSV and its PNG plots. Nothing about the figures is asserted
 * (no wall-clock thresholds in tests); only that they are there and are numbers.
 *
 * Local stack only (SUPABASE_ADMIN_DB_URL): the measures make and drop databases of their own on
 * that cluster and serve the real dispatch-worker under Deno. The results go to a temp folder, so
 * bench/results/ and bench/RESULTS.md are left alone.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { measures } from '../measures.ts';
import { renderTable, replaceTable, TABLE_END, TABLE_START } from '../report/tables.ts';
import type { MeasureReport } from '../support/report.ts';

const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const adminUrl = process.env.SUPABASE_ADMIN_DB_URL;

function runner(args: string[], timeout: number) {
  return spawnSync(
    process.execPath,
    ['--conditions=supadispatch-source', '--import', 'tsx', join(benchDir, 'run.ts'), ...args],
    { env: process.env, encoding: 'utf8', timeout },
  );
}

test('the quick suite runs every measure and writes reports, CSV and plots', { timeout: 900_000 }, (t) => {
  if (!adminUrl) return t.skip('local stack only: SUPABASE_ADMIN_DB_URL is not set');
  const dir = mkdtempSync(join(tmpdir(), 'bench-suite-test-'));
  try {
    const run = runner(['--quick', '--results', dir], 840_000);
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    for (const m of measures) {
      const path = join(dir, `${m.name}.json`);
      assert.ok(existsSync(path), `${m.name}: no report (${run.stderr.slice(-2000)})`);
      const r = JSON.parse(readFileSync(path, 'utf8')) as MeasureReport;
      assert.equal(r.name, m.name);
      assert.equal(r.quick, true);
      assert.ok(r.title.length > 0, `${m.name}: title`);
      assert.ok(!Number.isNaN(Date.parse(r.date)), `${m.name}: date ${r.date}`);
      assert.ok(
        r.machine.cores >= 1 && r.machine.memGiB > 0,
        `${m.name}: machine ${JSON.stringify(r.machine)}`,
      );
      const load = Array.isArray(r.machine.load) ? r.machine.load : [r.machine.load];
      assert.ok(load.length > 0 && load.every((v) => typeof v === 'number'), `${m.name}: load`);
      assert.ok(Array.isArray(r.rows) && r.rows.length > 0, `${m.name}: rows`);
      assert.equal(typeof r.summary, 'object', `${m.name}: summary`);
      const csv = readFileSync(join(dir, `${m.name}.csv`), 'utf8')
        .trim()
        .split('\n');
      assert.equal(csv.length, r.rows.length + 1, `${m.name}: CSV has a header and one line per row`);
      for (const target of r.targets ?? []) {
        assert.ok(target.measure && target.result, `${m.name}: target ${JSON.stringify(target)}`);
        assert.ok(target.met === null || typeof target.met === 'boolean');
      }
      for (const plot of r.plots ?? []) {
        const png = readFileSync(join(dir, `${m.name}-${plot.id}.png`));
        assert.deepEqual(
          [...png.subarray(0, 8)],
          [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
          `${m.name}: PNG`,
        );
        for (const s of plot.series)
          for (const [x, y] of s.points) assert.ok(typeof x === 'number' && typeof y === 'number');
      }
    }
    // nothing else: no scratch file a measure wrote beside its --json path (a `.partial.csv` was left before)
    const expected = (f: string) =>
      measures.some(
        (m) =>
          f === `${m.name}.json` ||
          f === `${m.name}.csv` ||
          (/^-[\w-]+\.png$/.test(f.slice(m.name.length)) && f.startsWith(m.name)),
      );
    assert.deepEqual(
      readdirSync(dir).filter((f) => !expected(f)),
      [],
      'only reports, CSVs and plots in the results folder',
    );
    const client = JSON.parse(readFileSync(join(dir, 'client-latency.json'), 'utf8')) as MeasureReport;
    assert.deepEqual(new Set(client.rows.map((r) => r.path)), new Set(['store', 'raw', 'first']));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the runner refuses a measure it does not list', () => {
  const run = runner(['--only', 'no-such-measure', '--report-only'], 60_000);
  assert.notEqual(run.status, 0);
  assert.match(run.stderr, /no measure named no-such-measure in bench\/measures\.ts/);
});

test('the generated table replaces only what is between its markers', () => {
  const report: MeasureReport = {
    name: 'x',
    title: 'X',
    date: '2026-12-02T12:00:00.000Z',
    quick: false,
    command: 'bench/x.ts',
    machine: { cores: 2, memGiB: 24, load: [1, 2], node: 'v20' },
    rows: [{ a: 1 }],
    summary: { a: 1 },
    targets: [{ measure: 'm|1', target: '≤ 1', result: '0.5', met: true }],
  };
  const block = renderTable([report], new Map([['x', ['x-scale.png']]]), 'npm run bench');
  assert.ok(block.startsWith(TABLE_START) && block.endsWith(TABLE_END));
  assert.match(block, /\| m\\\|1 \| {2}\| ≤ 1 \| 0\.5 \| yes \|/);
  assert.match(block, /!\[x-scale\.png\]\(results\/x-scale\.png\)/);
  const first = replaceTable('# Title\n\n## Hand-written\nreading\n', block);
  assert.equal(first, `# Title\n\n${block}\n\n## Hand-written\nreading\n`);
  const again = replaceTable(first, block.replace('0.5', '0.7'));
  assert.equal(again, first.replace('| 0.5 |', '| 0.7 |'));
  assert.throws(() => replaceTable(`a\n${TABLE_START}\nb`, block), /only one of the table markers/);
});
