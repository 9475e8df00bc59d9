/**
 * The people of the attack suite, made through the real Auth API (admin.createUser, then a
 * password sign-in) so every file also runs against a real Supabase:
 * - `victim`: notifications (one read), a preference, the unread counter, an email receipt with
 *   stored content, an occurrence; everything the attacks try to read or move;
 * - `mallory`: another signed-in user, not an admin (the attacker);
 * - `admin`: a member of dispatch.admins (to show the admin paths exist and work for them);
 * - `anon`: a client with only the anon key.
 * The fixture rows are written as `postgres` (SUPABASE_DB_URL); everything is named after the run
 * and removed by `cleanup`.
 */
import type { SupabaseClient } from '@supabase/supabase-js';
import type pg from 'pg';
import { dbPool, newClient, runId, type TestUser, Users } from '../../local/test/support/conformance.ts';
import type { TestTarget } from '../../local/test/support/env.ts';

export interface Cast {
  run: string;
  eventId: string;
  category: string;
  db: pg.Pool;
  users: Users;
  victim: TestUser;
  mallory: TestUser;
  admin: TestUser;
  anon: SupabaseClient;
  victimNotificationIds: string[];
  victimReceiptId: string;
  victimOccurrenceId: string;
  /** Text only the victim's rows hold: it must never show up in an attacker's answer. */
  victimMarker: string;
  cleanup(): Promise<void>;
}

export async function createCast(target: TestTarget): Promise<Cast> {
  const run = runId().replace('conf_', 'atk_');
  const eventId = `${run}.shipped`;
  const category = `${run}_orders`;
  const db = dbPool(target);
  const users = new Users(target, run);
  const [victim, mallory, admin] = [
    await users.create('victim'),
    await users.create('mallory'),
    await users.create('admin'),
  ];
  const victimMarker = `${run}-victim-secret`;
  await db.query('insert into dispatch.admins (user_id) values ($1) on conflict do nothing', [admin.id]);
  await db.query(
    `select dispatch.register_event($1, p_category => $2, p_transports => array['in_app', 'email'])`,
    [eventId, category],
  );
  const victimNotificationIds: string[] = [];
  for (const title of ['first', 'second', 'third']) {
    const { rows } = await db.query<{ id: string }>(`select dispatch.notify($1, $2, $3, $4) as id`, [
      victim.id,
      eventId,
      `${victimMarker} ${title}`,
      `for the victim only: ${victimMarker}`,
    ]);
    victimNotificationIds.push(rows[0].id);
  }
  await db.query('update dispatch.notifications set read_at = now() where id = $1', [
    victimNotificationIds[0],
  ]);
  await db.query(
    `insert into dispatch.preferences (user_id, event_id, transport, enabled) values ($1, $2, 'email', false)`,
    [victim.id, eventId],
  );
  const { rows: occ } = await db.query<{ id: string }>(
    `select dispatch.emit($1, jsonb_build_object('note', $2::text, 'user_id', $3::text)) as id`,
    [eventId, victimMarker, victim.id],
  );
  const victimOccurrenceId = occ[0].id;
  // A transport of the run's own, so no worker of the stack claims this receipt while the suite runs.
  await db.query(
    `select dispatch.create_receipts($1, $2 || '_mail:buyer', $2 || '_mail', 'buyer', interval '1 day',
       array[row($3::uuid, $4::uuid, $5::text, null)::dispatch.recipient])`,
    [eventId, run, victimOccurrenceId, victim.id, victim.email],
  );
  const { rows: rec } = await db.query<{ id: string }>(
    `update dispatch.receipts set content = jsonb_build_object('subject', $2::text, 'html', '<p>' || $2 || '</p>')
      where occurrence_id = $1 returning id`,
    [victimOccurrenceId, victimMarker],
  );
  const anon = users.track(newClient(target, target.anonKey));
  return {
    run,
    eventId,
    category,
    db,
    users,
    victim,
    mallory,
    admin,
    anon,
    victimNotificationIds,
    victimReceiptId: rec[0].id,
    victimOccurrenceId,
    victimMarker,
    async cleanup() {
      await users.cleanup();
      await db.query('delete from dispatch.occurrences where event_id like $1', [`${run}.%`]);
      await db.query('delete from dispatch.notifications where user_id = any($1::uuid[])', [
        [victim.id, mallory.id, admin.id],
      ]);
      await db.query('delete from dispatch.preferences where user_id = any($1::uuid[])', [
        [victim.id, mallory.id, admin.id],
      ]);
      await db.query('delete from dispatch.counter_state where scope = any($1::text[])', [
        [victim.id, mallory.id, admin.id],
      ]);
      await db.query('delete from dispatch.admins where user_id = $1', [admin.id]);
      await db.query('delete from dispatch.events where id like $1', [`${run}.%`]);
      await db.end();
    },
  };
}
