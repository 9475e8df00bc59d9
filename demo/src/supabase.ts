/// <reference types="vite/client" />
/** The app's one supabase-js client: auth, tables, RPCs, functions and the Realtime socket the SDK joins. */
import { createClient } from '@supabase/supabase-js';
import { readEnv } from './env.ts';

export const env = readEnv(import.meta.env);

/**
 * The URL fragment the page was opened with, read before supabase-js consumes it: a failed reset link
 * brings its error there.
 */
export const landingHash = typeof window === 'undefined' ? '' : window.location.hash;

export const supabase = createClient(env.supabaseUrl, env.supabaseAnonKey, {
  // the reset link lands on /reset with the session in the URL's fragment (implicit flow)
  auth: { persistSession: true, autoRefreshToken: true, detectSessionInUrl: true },
});

export type Supabase = typeof supabase;
