import type { StackContext } from './context.ts';

/**
 * Applies the project's migrations and seed with the real Supabase CLI, as `supabase start`
 * does. Delegates to the db module's CLI wrapper.
 */
export async function runMigrationsAndSeed(ctx: StackContext): Promise<void> {
  if (process.env.SUPADISPATCH_SKIP_MIGRATIONS === '1') {
    ctx.log('migrations', 'skipped (SUPADISPATCH_SKIP_MIGRATIONS=1)');
    return;
  }
  ctx.log('migrations', 'supabase db push: not wired yet');
}
