import type pg from 'pg';
import type { Logger } from '../logger.ts';

/**
 * `[api] auto_expose_new_tables` (config.toml), applied the way the Supabase CLI's `supabase start`
 * applies it: unset or false leaves new tables, views and sequences in `public` without privileges
 * for the Data API roles (what bootstrap/030_public_privileges.sql sets up, and what hosted does for
 * every project since 2026-10-30, changelog #45329); true restores the older default: ALL to anon,
 * authenticated and service_role on what postgres or supabase_admin creates there. The CLI warns
 * that true is deprecated; so does the stack. Functions keep EXECUTE either way. Existing objects
 * keep their grants: only default privileges change, on every start, so flipping the setting and
 * restarting takes effect for tables created afterwards.
 */
export async function applyApiPrivileges(
  db: Pick<pg.ClientBase, 'query'> | Pick<pg.Pool, 'query'>,
  autoExpose: boolean | null,
  log: Logger,
): Promise<void> {
  const verb = autoExpose === true ? 'grant all on' : 'revoke all on';
  const direction = autoExpose === true ? 'to' : 'from';
  const statements = ['postgres', 'supabase_admin'].flatMap((owner) =>
    ['tables', 'sequences'].map(
      (kind) =>
        `alter default privileges for role ${owner} in schema public ${verb} ${kind} ${direction} anon, authenticated, service_role`,
    ),
  );
  await db.query(statements.join(';\n'));
  if (autoExpose === true) {
    log(
      'db',
      'api.auto_expose_new_tables = true is deprecated (the Supabase CLI says so too): hosted projects stopped exposing new public tables to the Data API on 2026-10-30; grant explicitly in migrations',
    );
  }
}
