import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { StackContext } from './context.ts';
import { pushMigrations } from './db/migrate.ts';

/**
 * Applies the project's migrations and seed with the real Supabase CLI (`supabase db push`, as
 * the non-superuser `postgres` role), as `supabase start` applies them on a fresh stack. The seed
 * runs once, when the CLI's seed history says it has not run (it tracks seed files by hash).
 */
export async function runMigrationsAndSeed(ctx: StackContext): Promise<void> {
  if (process.env.SUPADISPATCH_SKIP_MIGRATIONS === '1') {
    ctx.log('migrations', 'skipped (SUPADISPATCH_SKIP_MIGRATIONS=1)');
    return;
  }
  const migrationsDir = join(ctx.projectRoot, 'supabase', 'migrations');
  const hasMigrations =
    existsSync(migrationsDir) && readdirSync(migrationsDir).some((f) => f.endsWith('.sql'));
  const hasSeed = ctx.config.seedPaths.some((p) => existsSync(join(ctx.projectRoot, 'supabase', p)));
  if (!hasMigrations && !hasSeed) {
    ctx.log('migrations', 'no migrations or seed in supabase/');
    return;
  }
  ctx.log('migrations', 'supabase db push');
  await pushMigrations({
    projectRoot: ctx.projectRoot,
    dbUrl: ctx.urls.db,
    includeSeed: hasSeed,
    log: ctx.log,
  });
  await reloadCronJobs(ctx);
}

/**
 * pg_cron's scheduler reloads its job list when a statement touches `cron.job`. A scheduler that
 * started before the bootstrap created the extension can miss the jobs a migration schedules (seen
 * in a fresh test stack: `dispatch-tick` never ran until some other job was scheduled), so a no-op
 * statement on `cron.job` after the push makes it read them.
 */
async function reloadCronJobs(ctx: StackContext): Promise<void> {
  await ctx.adminPool.query(
    `do $$ begin
       if to_regclass('cron.job') is not null then update cron.job set jobid = jobid where false; end if;
     end $$`,
  );
}
