/**
 * The signed-in user, from supabase-js's auth state: the session, whether the user came from a
 * password-reset link (`PASSWORD_RECOVERY`), their profile row and whether the server counts them an
 * admin (`dispatch_is_admin()`, the core's rule). The admin flag only decides what the UI shows: the
 * admin RPCs and functions check it again on the server.
 */
import type { Session } from '@supabase/supabase-js';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { createContext, type ReactElement, type ReactNode, useContext, useEffect, useState } from 'react';
import { supabase } from '../supabase.ts';

interface SessionState {
  /** null when signed out; undefined until supabase-js has read the stored session (and the URL). */
  session: Session | null | undefined;
  /** The session came from a password-reset link: /reset asks for a new password. */
  recovery: boolean;
}

const SessionContext = createContext<SessionState>({ session: undefined, recovery: false });

/** Follows supabase-js's auth state; clears every cached query when the user changes. */
export function SessionProvider({ children }: { children: ReactNode }): ReactElement {
  const [state, setState] = useState<SessionState>({ session: undefined, recovery: false });
  const queryClient = useQueryClient();
  useEffect(() => {
    let userId: string | null | undefined;
    const { data } = supabase.auth.onAuthStateChange((event, session) => {
      const next = session?.user.id ?? null;
      // another user's lists must not show for a moment after a switch
      if (userId !== undefined && next !== userId) queryClient.clear();
      userId = next;
      setState((was) => ({
        session,
        recovery: event === 'PASSWORD_RECOVERY' ? true : event === 'SIGNED_OUT' ? false : was.recovery,
      }));
    });
    return () => data.subscription.unsubscribe();
  }, [queryClient]);
  return <SessionContext.Provider value={state}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionState {
  return useContext(SessionContext);
}

/** The signed-in user's id; only for components under `<RequireAuth>`. */
export function useUserId(): string {
  const { session } = useSession();
  if (!session) throw new Error('useUserId: no signed-in user (render under <RequireAuth>)');
  return session.user.id;
}

/** A row of `public.profiles`. */
export interface Profile {
  id: string;
  email: string | null;
  display_name: string | null;
  region: string | null;
  /** `buyer`, `seller` or `admin`: mirrors app_metadata.role; users cannot write it. */
  role: string | null;
}

export function useProfile() {
  const { session } = useSession();
  const id = session?.user.id;
  return useQuery({
    queryKey: ['profiles', id],
    enabled: Boolean(id),
    queryFn: async (): Promise<Profile | null> => {
      const { data, error } = await supabase
        .from('profiles')
        .select('id, email, display_name, region, role')
        .eq('id', id as string)
        .maybeSingle();
      if (error) throw new Error(`profiles: ${error.message}`);
      return data as Profile | null;
    },
  });
}

/** Whether the server counts the signed-in user an admin (false when signed out). */
export function useIsAdmin(): { isAdmin: boolean; isLoading: boolean } {
  const { session } = useSession();
  const id = session?.user.id;
  const query = useQuery({
    queryKey: ['me', 'is_admin', id],
    enabled: Boolean(id),
    staleTime: 60_000,
    queryFn: async () => {
      const { data, error } = await supabase.rpc('dispatch_is_admin');
      if (error) throw new Error(`dispatch_is_admin: ${error.message}`);
      return data === true;
    },
  });
  return { isAdmin: query.data === true, isLoading: Boolean(id) && query.isPending };
}
