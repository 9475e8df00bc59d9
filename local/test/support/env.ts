/**
 * Where integration tests find the stack they run against. The local stack's test runner sets
 * these from `supadispatch local status -o env`; against a real Supabase, set them by hand.
 */
export interface TestTarget {
  url: string;
  anonKey: string;
  serviceRoleKey: string;
  dbUrl: string;
}

export function testTarget(): TestTarget | null {
  const { SUPABASE_URL, SUPABASE_ANON_KEY, SUPABASE_SERVICE_ROLE_KEY, SUPABASE_DB_URL } = process.env;
  if (!SUPABASE_URL || !SUPABASE_ANON_KEY || !SUPABASE_SERVICE_ROLE_KEY || !SUPABASE_DB_URL) return null;
  return {
    url: SUPABASE_URL,
    anonKey: SUPABASE_ANON_KEY,
    serviceRoleKey: SUPABASE_SERVICE_ROLE_KEY,
    dbUrl: SUPABASE_DB_URL,
  };
}

export const missingTargetMessage =
  'no stack to test against: set SUPABASE_URL, SUPABASE_ANON_KEY, SUPABASE_SERVICE_ROLE_KEY and SUPABASE_DB_URL (npm test sets them from the local stack)';

/** Settings only the local stack has (mail catcher, webhook sink, superuser URL, JWT secret). */
export function localOnly(name: string): string | null {
  return process.env[name] || null;
}
