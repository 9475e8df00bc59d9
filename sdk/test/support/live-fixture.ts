/**
 * An app table whose writes the database turns into counter broadcasts, the way a generated
 * migration does it (compare sql/test/fixtures/changes_example.sql): capture triggers on
 * `public.<run>_tasks`, one processor registered with dispatch.register_source, and two counters:
 * `<run>_open` (open tasks per user, invalidating `['<run>-tasks']` and `['<run>', 'list']`) and
 * `<run>_team_open` (open tasks of everyone, for the audience `<run>_team`, invalidating
 * `['<run>-tasks']`). Used by the live client's tests and by bench/client-latency.ts; everything is
 * named after the run and `drop()` removes it.
 */
import type pg from 'pg';

export interface TasksFixture {
  table: string;
  userCounter: string;
  teamCounter: string;
  audience: string;
  /** The query keys the counters name (decoded). */
  keys: { tasks: string[]; list: string[] };
  /** Adds a user to the audience. */
  join(userId: string): Promise<void>;
  /** Inserts `count` open tasks for `userId` in one statement (one captured change). */
  addTasks(userId: string, count?: number): Promise<void>;
  drop(): Promise<void>;
}

/** Creates the fixture as the `postgres` role (the owner of a migration's objects). */
export async function createTasksFixture(db: pg.Pool, run: string): Promise<TasksFixture> {
  const table = `public.${run}_tasks`;
  const processor = `dispatch.src_${run}_tasks_process`;
  const userCounter = `${run}_open`;
  const teamCounter = `${run}_team_open`;
  const audience = `${run}_team`;
  await db.query(`
    create table ${table} (
      id bigint generated always as identity primary key,
      user_id uuid,
      status text not null default 'open'
    );
    create function ${processor}(p_changes dispatch.changes[]) returns void
    language plpgsql security definer set search_path = '' as $fn$
    begin
      perform dispatch.apply_counter_deltas('${userCounter}', array(
        select row(x.scope, sum(x.d))::dispatch.counter_delta from (
          select c.user_id::text as scope, 1 as d
          from unnest(p_changes) ch cross join lateral json_populate_recordset(null::${table}, ch.new_rows) c
          where ch.operation in ('INSERT', 'UPDATE') and c.status = 'open' and c.user_id is not null
          union all
          select c.user_id::text, -1
          from unnest(p_changes) ch cross join lateral json_populate_recordset(null::${table}, ch.old_rows) c
          where ch.operation in ('UPDATE', 'DELETE') and c.status = 'open' and c.user_id is not null
        ) x group by x.scope having sum(x.d) <> 0 order by x.scope));
      perform dispatch.apply_counter_deltas('${teamCounter}', array(
        select row('${audience}', sum(x.d))::dispatch.counter_delta from (
          select 1 as d
          from unnest(p_changes) ch cross join lateral json_populate_recordset(null::${table}, ch.new_rows) c
          where ch.operation in ('INSERT', 'UPDATE') and c.status = 'open'
          union all
          select -1
          from unnest(p_changes) ch cross join lateral json_populate_recordset(null::${table}, ch.old_rows) c
          where ch.operation in ('UPDATE', 'DELETE') and c.status = 'open'
        ) x having coalesce(sum(x.d), 0) <> 0));
    end
    $fn$;
    revoke all on function ${processor}(dispatch.changes[]) from public, anon, authenticated;
    select dispatch.register_counter('${userCounter}', 'user', null, array['${run}-tasks', '["${run}","list"]'], 1,
      '${table}', 'select user_id::text, count(*) from ${table} where status = ''open'' and user_id is not null group by 1');
    select dispatch.register_counter('${teamCounter}', 'audience', '${audience}', array['${run}-tasks'], 1,
      '${table}', 'select ''${audience}'', count(*) from ${table} where status = ''open''');
    select dispatch.register_source('${table}', '${processor}');
    create trigger dispatch_capture_insert after insert on ${table}
      referencing new table as new_rows for each statement execute function dispatch.capture_changes();
    create trigger dispatch_capture_update after update on ${table}
      referencing old table as old_rows new table as new_rows for each statement execute function dispatch.capture_changes();
    create trigger dispatch_capture_delete after delete on ${table}
      referencing old table as old_rows for each statement execute function dispatch.capture_changes();
  `);
  return {
    table,
    userCounter,
    teamCounter,
    audience,
    keys: { tasks: [`${run}-tasks`], list: [run, 'list'] },
    async join(userId) {
      await db.query('insert into dispatch.audience_members (audience, user_id) values ($1, $2)', [
        audience,
        userId,
      ]);
    },
    async addTasks(userId, count = 1) {
      await db.query(`insert into ${table} (user_id) select $1 from generate_series(1, $2)`, [userId, count]);
    },
    async drop() {
      await db.query(`
        drop table if exists ${table};
        select dispatch.unregister_source('${table}');
        delete from dispatch.changes where source_table = '${table}';
        drop function if exists ${processor}(dispatch.changes[]);
        delete from dispatch.counters_def where name in ('${userCounter}', '${teamCounter}');
      `);
      await db.query('delete from dispatch.audience_members where audience = $1', [audience]);
    },
  };
}
