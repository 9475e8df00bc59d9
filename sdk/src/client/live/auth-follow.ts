/**
 * Following supabase-js's auth state: which user is signed in, and their access token. Events are
 * handled after the callback returns (a timer): supabase-js calls `onAuthStateChange` callbacks while
 * it holds its auth lock, and an RPC made from inside one waits for that lock forever.
 */
import type { AuthLike, SessionLike } from './supabase.ts';

/** Who is signed in, as the live client needs it. */
export interface SignedIn {
  userId: string;
  accessToken: string;
}

/** Called, in order, for every auth event: the session after it (null: signed out) and the event. */
export type AuthListener = (session: SignedIn | null, event: string) => void;

/** Follows `auth` until the returned function is called. The first call is INITIAL_SESSION. */
export function followAuth(auth: AuthLike, listener: AuthListener): () => void {
  let stopped = false;
  const { data } = auth.onAuthStateChange((event, session) => {
    const signedIn = toSignedIn(event, session);
    setTimeout(() => {
      if (!stopped) listener(signedIn, event);
    }, 0);
  });
  return () => {
    stopped = true;
    data.subscription.unsubscribe();
  };
}

function toSignedIn(event: string, session: SessionLike | null): SignedIn | null {
  if (event === 'SIGNED_OUT' || !session?.access_token || !session.user?.id) return null;
  return { userId: session.user.id, accessToken: session.access_token };
}
