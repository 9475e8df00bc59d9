/** Route guards: signed-in pages send visitors to /signin; admin pages show a notice to non-admins. */
import type { ReactElement, ReactNode } from 'react';
import { Navigate, useLocation } from 'react-router';
import { Loading, PageHeader } from '../components/ui.tsx';
import { Shell } from '../layout/shell.tsx';
import { useIsAdmin, useSession } from './session.tsx';

export function RequireAuth({ children }: { children: ReactNode }): ReactElement {
  const { session } = useSession();
  const location = useLocation();
  if (session === undefined) return <Loading what="your session" />;
  if (session === null) {
    const next = `${location.pathname}${location.search}`;
    return <Navigate to={`/signin?next=${encodeURIComponent(next)}`} replace />;
  }
  return <Shell>{children}</Shell>;
}

/**
 * Admin pages. The flag comes from the server's own rule; showing or hiding is only courtesy: the
 * RPCs and functions these pages call check again and refuse non-admins.
 */
export function RequireAdmin({ children }: { children: ReactNode }): ReactElement {
  const { isAdmin, isLoading } = useIsAdmin();
  if (isLoading) return <Loading what="your permissions" />;
  if (!isAdmin) {
    return (
      <PageHeader title="Admins only">
        This page is for administrators. Sign in as an admin to see it.
      </PageHeader>
    );
  }
  return <>{children}</>;
}
