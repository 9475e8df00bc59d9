/**
 * Where the demo finds its Supabase project: `VITE_SUPABASE_URL` and `VITE_SUPABASE_ANON_KEY`, which
 * Vite reads from the environment (or `demo/.env.local`). `npm start` sets both for the local stack.
 */
export interface DemoEnv {
  supabaseUrl: string;
  supabaseAnonKey: string;
}

/** The demo's settings from Vite's `import.meta.env`; throws naming each variable that is missing or wrong. */
export function readEnv(env: Record<string, unknown>): DemoEnv {
  const problems: string[] = [];
  const url = typeof env.VITE_SUPABASE_URL === 'string' ? env.VITE_SUPABASE_URL.trim() : '';
  const key = typeof env.VITE_SUPABASE_ANON_KEY === 'string' ? env.VITE_SUPABASE_ANON_KEY.trim() : '';
  if (!url) problems.push('VITE_SUPABASE_URL is not set (the API URL `npm start` prints)');
  else if (!/^https?:\/\/[^/\s]+/.test(url))
    problems.push(`VITE_SUPABASE_URL is not an http(s) URL: ${JSON.stringify(url)}`);
  if (!key) problems.push('VITE_SUPABASE_ANON_KEY is not set (the anon key `npm start` prints)');
  if (problems.length > 0) throw new Error(`demo/: ${problems.join('; ')}`);
  return { supabaseUrl: url.replace(/\/+$/, ''), supabaseAnonKey: key };
}
