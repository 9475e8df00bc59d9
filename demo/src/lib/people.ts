/**
 * Names for the user ids the admin pages show (receipts carry ids, not names): the profiles the
 * signed-in user may read (an admin reads them all).
 */
import { useQuery } from '@tanstack/react-query';
import { supabase } from '../supabase.ts';
import { shortId } from './format.ts';

export function usePeople(): (userId: string | null) => string {
  const profiles = useQuery({
    queryKey: ['profiles', 'names'],
    staleTime: 60_000,
    queryFn: async () => {
      const { data, error } = await supabase.from('profiles').select('id, display_name, email');
      if (error) throw new Error(`profiles: ${error.message}`);
      return new Map(
        (data as { id: string; display_name: string | null; email: string | null }[]).map((p) => [
          p.id,
          p.display_name || p.email || shortId(p.id),
        ]),
      );
    },
  });
  return (userId) => (userId ? (profiles.data?.get(userId) ?? `user ${shortId(userId)}`) : '—');
}
