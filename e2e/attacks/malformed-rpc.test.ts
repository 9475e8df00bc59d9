/**
 * Malformed RPC arguments, property-based (fast-check): every client RPC the database has
 * (`public.dispatch_*` except the worker's, from pg_proc) called through supabase-js with arbitrary
 * JSON for each argument, wrong types, huge and negative numbers, long strings, unknown argument
 * names. User RPCs are called as mallory, admin RPCs as the admin. Each call either succeeds on
 * the caller's own data or gets a clear error (an SQLSTATE or PostgREST code and a message); no
 * call moves a row of the victim or of the run (fingerprint before and after).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { missingTargetMessage, testTarget } from '../../local/test/support/env.ts';
import { type Cast, createCast } from './cast.ts';
import { fingerprint, publicDispatchFunctions, Scoreboard } from './support.ts';

const target = testTarget();
const board = new Scoreboard('malformed-rpc');
// npm test runs a short version; `npm run test:chaos` sets SUPADISPATCH_ATTACK_RUNS higher.
const RUNS = Number(process.env.SUPADISPATCH_ATTACK_RUNS ?? 12);

const ADMIN = new Set([
  'dispatch_receipts',
  'dispatch_occurrences',
  'dispatch_replay',
  'dispatch_changes',
  'dispatch_replay_change',
  'dispatch_failed_receipts',
  'dispatch_requeue_receipts',
]);

/** A value for an argument: right type with hostile content, or the wrong type altogether. */
const argument = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.string({ maxLength: 300 }),
  fc.constantFrom(
    -1,
    0,
    2 ** 31,
    -(2 ** 63),
    1e308,
    'NaN',
    'infinity',
    '',
    ' ',
    "'; drop table dispatch.receipts; --",
    '00000000-0000-0000-0000-000000000000',
    'not-a-uuid',
    '2026-13-45T99:99:99Z',
    'x'.repeat(5000),
    [],
    [null],
    {},
  ),
  fc.array(fc.uuid(), { maxLength: 5 }),
);

describe('malformed RPC arguments (fast-check)', { skip: !target && missingTargetMessage }, () => {
  let cast: Cast;
  let rpcs: Awaited<ReturnType<typeof publicDispatchFunctions>>;
  before(async () => {
    cast = await createCast(target!);
    rpcs = (await publicDispatchFunctions(cast.db)).filter((f) => !f.name.startsWith('dispatch_worker_'));
  });
  after(async () => {
    await cast?.cleanup();
    board.write();
  });

  test('every client RPC: a clear error or an answer about the caller only; the victim and the run are unchanged', async () => {
    assert.ok(rpcs.length >= 14);
    const before = await fingerprint(cast.db, [cast.victim.id], `${cast.run}.`);
    for (const fn of rpcs) {
      const caller = ADMIN.has(fn.name) ? cast.admin.client : cast.mallory.client;
      const names = [...fn.args.map((a) => a.name), 'unknown_arg'];
      const args = fc.dictionary(fc.constantFrom(...names), argument, { maxKeys: names.length });
      let breached = false;
      try {
        await fc.assert(
          fc.asyncProperty(args, async (input) => {
            const { data, error } = await caller.rpc(fn.name, input);
            if (error) {
              assert.match(
                String(error.code),
                /^(22|23|42|P0|PGRST)/,
                `${fn.name}(${JSON.stringify(input)}): ${JSON.stringify(error)}`,
              );
              assert.ok(error.message.length > 0);
              assert.notEqual(error.code, 'XX000', 'an internal error');
            } else {
              const text = JSON.stringify(data) ?? '';
              assert.ok(
                !text.includes(cast.victimMarker) || ADMIN.has(fn.name),
                `${fn.name} leaked: ${text.slice(0, 200)}`,
              );
            }
          }),
          { numRuns: RUNS },
        );
      } catch (error) {
        breached = true;
        throw error;
      } finally {
        board.count(`malformed arguments to ${fn.name}`, RUNS, breached);
      }
    }
    await board.attack('malformed RPC calls moved a row', async () =>
      assert.equal(await fingerprint(cast.db, [cast.victim.id], `${cast.run}.`), before),
    );
  });
});
