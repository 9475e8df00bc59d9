/**
 * The pgTAP runner: `pgtapTests(dirs)` registers one node test per `*.sql` file in those folders,
 * run against SUPABASE_ADMIN_DB_URL (superuser). Used by `sql/test/pgtap.test.ts` (the core's tests,
 * this folder) and `local/test/db/pgtap.test.ts` (the local stack's bootstrap, `local/src/db/test/`).
 *
 * Convention: each file runs on its own connection, as the superuser, inside a transaction the
 * runner opens (BEGIN) and always rolls back (ROLLBACK), so files need no begin/rollback of their
 * own and leave nothing behind. A file written for `supabase test db` that does carry its own
 * `begin;` ... `rollback;` works too (PostgreSQL only warns about the nested BEGIN and the extra
 * ROLLBACK). The search_path is `"$user", public, extensions` (pgTAP lives in `extensions`).
 * Files may `set local role ...` and set `request.jwt.claims` to test as a client.
 * A file passes when it printed a plan `1..N`, exactly N test lines, and no `not ok` (except
 * `# TODO`); the failure message carries the diagnostics (`# ...`) pgTAP printed.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface TapSummary {
  planned: number | null;
  passed: number;
  failed: string[];
  count: number;
  diagnostics: string[];
}

/**
 * A test file's SQL with psql's `\\ir <path>` lines (include, relative to the file) expanded, so
 * files can share fixtures and still run unchanged with `psql -f`.
 */
export function readSql(file: string, depth = 0): string {
  if (depth > 5) throw new Error(`${file}: \\ir nested too deeply`);
  return readFileSync(file, 'utf8').replace(/^\\ir\s+(\S+)\s*$/gm, (_line, path: string) =>
    readSql(join(dirname(file), path), depth + 1),
  );
}

/** Parses pgTAP output lines. */
export function parseTap(lines: string[]): TapSummary {
  const summary: TapSummary = { planned: null, passed: 0, failed: [], count: 0, diagnostics: [] };
  for (const raw of lines) {
    const line = raw.trimEnd();
    const plan = /^1\.\.(\d+)/.exec(line);
    if (plan) {
      summary.planned = Number(plan[1]);
    } else if (/^not ok\b/.test(line)) {
      summary.count++;
      if (/#\s*TODO/i.test(line)) summary.passed++;
      else summary.failed.push(line);
    } else if (/^ok\b/.test(line)) {
      summary.count++;
      summary.passed++;
    } else if (line.startsWith('#')) {
      summary.diagnostics.push(line);
    }
  }
  return summary;
}

function tapLines(results: pg.QueryResult | pg.QueryResult[]): string[] {
  const lines: string[] = [];
  for (const result of Array.isArray(results) ? results : [results]) {
    for (const row of result.rows ?? []) {
      const first = Object.values(row as Record<string, unknown>)[0];
      if (typeof first === 'string') lines.push(...first.split('\n'));
    }
  }
  return lines;
}

/** One node test per `*.sql` file of `testDirs` (sorted by name within each folder). */
export function pgtapTests(testDirs: string[]): void {
  const adminUrl = process.env.SUPABASE_ADMIN_DB_URL;
  const files = testDirs.flatMap((dir) =>
    existsSync(dir)
      ? readdirSync(dir)
          .filter((name) => name.endsWith('.sql'))
          .sort()
          .map((name) => join(dir, name))
      : [],
  );

  if (!adminUrl) {
    test('pgTAP', (t) => t.skip('SUPABASE_ADMIN_DB_URL is not set (superuser URL of the local stack)'));
  } else if (files.length === 0) {
    test('pgTAP', (t) =>
      t.skip(`no *.sql files in ${testDirs.map((d) => relative(repoRoot, d)).join(' or ')}`));
  } else {
    for (const file of files) {
      test(`pgTAP ${relative(repoRoot, file)}`, async () => {
        const client = new pg.Client({ connectionString: adminUrl });
        await client.connect();
        const lines: string[] = [];
        try {
          await client.query(`set search_path to "$user", public, extensions`);
          await client.query('set client_min_messages to warning');
          await client.query('begin');
          try {
            lines.push(...tapLines(await client.query(readSql(file))));
          } catch (error) {
            const e = error as Error & { where?: string };
            assert.fail(
              `${relative(repoRoot, file)}: SQL error: ${e.message}${e.where ? ` (${e.where})` : ''}\n${lines.join('\n')}`,
            );
          }
        } finally {
          await client.query('rollback').catch(() => {});
          await client.end();
        }
        const summary = parseTap(lines);
        const report = lines.join('\n');
        assert.ok(summary.planned !== null, `no plan (1..N) printed:\n${report}`);
        assert.deepEqual(summary.failed, [], `failed tests:\n${report}`);
        assert.equal(
          summary.count,
          summary.planned,
          `planned ${summary.planned} tests, ran ${summary.count}:\n${report}`,
        );
      });
    }
  }
}
