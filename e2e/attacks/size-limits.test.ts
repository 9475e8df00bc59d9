/**
 * Size limits on the SQL side, through supabase-js as a signed-in user (and the admin): each
 * oversized argument gets its documented limit back in a clear error (sql/README.md, "Limits"),
 * a huge RPC request body is refused, not a crash, and rendering bounds its output whatever the
 * size of the record. The functions' body limit (1 MiB) is in functions.test.ts.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { missingTargetMessage, testTarget } from '../../local/test/support/env.ts';
import { type Cast, createCast } from './cast.ts';
import { fingerprint, Scoreboard } from './support.ts';

const target = testTarget();
const board = new Scoreboard('size-limits');

describe('size limits (RPC arguments, request bodies, rendering)', {
  skip: !target && missingTargetMessage,
}, () => {
  let cast: Cast;
  before(async () => {
    cast = await createCast(target!);
  });
  after(async () => {
    await cast?.cleanup();
    board.write();
  });

  test('oversized RPC arguments get the limit in a clear error; nothing changes', async () => {
    const before = await fingerprint(cast.db, [cast.victim.id, cast.mallory.id], `${cast.run}.`);
    const ids = (n: number) => Array.from({ length: n }, () => randomUUID());
    const cases: [string, () => PromiseLike<{ error: { code?: string; message: string } | null }>, RegExp][] =
      [
        [
          'mark_read with 1001 ids',
          () => cast.mallory.client.rpc('dispatch_mark_read', { ids: ids(1001) }),
          /at most 1000 ids/,
        ],
        [
          'set_preference with a 201-character event id',
          () =>
            cast.mallory.client.rpc('dispatch_set_preference', {
              event_id: 'e'.repeat(201),
              transport: 'email',
              enabled: false,
            }),
          /longer than 200/,
        ],
        [
          'set_preference with a 201-character category',
          () =>
            cast.mallory.client.rpc('dispatch_set_preference', {
              event_id: null,
              category: 'c'.repeat(201),
              transport: 'email',
              enabled: false,
            }),
          /longer than 200/,
        ],
        [
          'set_preference with a 33-character transport',
          () =>
            cast.mallory.client.rpc('dispatch_set_preference', {
              event_id: cast.eventId,
              transport: 't'.repeat(33),
              enabled: false,
            }),
          /longer than 32/,
        ],
        [
          'notifications with max_rows 1000000',
          () => cast.mallory.client.rpc('dispatch_notifications', { max_rows: 1_000_000 }),
          /max_rows must be between 1 and/,
        ],
        [
          'requeue with 1001 receipt ids (admin)',
          () => cast.admin.client.rpc('dispatch_requeue_receipts', { receipt_ids: ids(1001) }),
          /at most 1000 receipt_ids/,
        ],
        [
          'receipts with max_rows 1000000 (admin)',
          () => cast.admin.client.rpc('dispatch_receipts', { max_rows: 1_000_000 }),
          /max_rows must be between 1 and/,
        ],
      ];
    for (const [what, call, message] of cases) {
      await board.attack(what, async () => {
        const { error } = await call();
        assert.ok(error, `${what} was accepted`);
        assert.equal(error.code, '22023', `${what}: ${error.code} ${error.message}`);
        assert.match(error.message, message);
      });
    }
    assert.equal(await fingerprint(cast.db, [cast.victim.id, cast.mallory.id], `${cast.run}.`), before);
  });

  test('a 4 MB RPC request body is refused or answered, never a crash; the API still serves', async () => {
    await board.attack('4 MB body to an RPC', async () => {
      // node:http on a connection of its own (agent: false): the server may close it mid-upload
      const body = JSON.stringify({ ids: Array.from({ length: 100_000 }, () => randomUUID()) });
      const url = new URL(`${target!.url}/rest/v1/rpc/dispatch_mark_read`);
      const answer = await new Promise<{ status: number; text: string }>((resolve) => {
        const req = request(
          url,
          {
            method: 'POST',
            agent: false,
            headers: {
              apikey: target!.anonKey,
              authorization: `Bearer ${cast.mallory.session.access_token}`,
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(body),
            },
            timeout: 120_000,
          },
          (res) => {
            let text = '';
            res.on('data', (c) => {
              text += c;
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
          },
        );
        req.on('error', (error) => resolve({ status: 0, text: error.message }));
        req.end(body);
      });
      assert.ok(
        answer.status === 0 || (answer.status >= 400 && answer.status < 500),
        `${answer.status}: ${answer.text.slice(0, 200)}`,
      );
      const after = await cast.mallory.client.rpc('dispatch_is_admin', {});
      assert.equal(after.error, null, 'the API answers the next call');
    });
  });

  test('rendering a 5 MB record field is capped at render_max_length (100000) with a marker', async () => {
    await board.attack('an oversized record blows up rendering', async () => {
      const { rows } = await cast.db.query<{ len: number; tail: string }>(
        `select length(r) as len, right(r, 12) as tail
           from dispatch.render('Hello {{name}} and {{name}}', jsonb_build_object('name', repeat('x', 5000000))) r`,
      );
      assert.equal(rows[0].len, 100000);
      assert.equal(rows[0].tail, ' [truncated]');
    });
  });
});
