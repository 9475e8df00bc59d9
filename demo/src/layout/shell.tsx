/**
 * The frame of every signed-in page: the top bar (brand, connection status, the SDK's
 * NotificationBell with its inbox, the user and "Sign out") and the side navigation. Admin links show
 * only to admins; the admin pages ask the server, which refuses everyone else.
 */
import { NotificationBell, useDispatchStatus } from '@supadispatch/react';
import type { ReactElement, ReactNode } from 'react';
import { NavLink, useNavigate } from 'react-router';
import { useIsAdmin, useProfile, useSession } from '../auth/session.tsx';
import { supabase } from '../supabase.ts';

const statusText: Record<string, string> = {
  idle: 'Not connected',
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
};

function ConnectionStatus(): ReactElement {
  const status = useDispatchStatus();
  return (
    <span className="connection" data-status={status} title="Realtime connection of the counters and inbox">
      <span className="connection__dot" aria-hidden="true" />
      {statusText[status] ?? status}
    </span>
  );
}

function Nav(): ReactElement {
  const { isAdmin } = useIsAdmin();
  const profile = useProfile();
  const seller = profile.data?.role === 'seller';
  return (
    <nav className="sidenav" aria-label="Main">
      <p className="sidenav__group">Market</p>
      <NavLink to="/shop">Shop</NavLink>
      <NavLink to="/orders">My orders</NavLink>
      {seller && <NavLink to="/seller">Seller dashboard</NavLink>}
      <p className="sidenav__group">Account</p>
      <NavLink to="/preferences">Preferences</NavLink>
      {isAdmin && (
        <>
          <p className="sidenav__group">Admin</p>
          <NavLink to="/admin/counters">Counters</NavLink>
          <NavLink to="/admin/receipts">Receipts</NavLink>
          <NavLink to="/admin/failed">Failed deliveries</NavLink>
          <NavLink to="/admin/events">Events &amp; preview</NavLink>
          <NavLink to="/admin/trigger">Manual trigger</NavLink>
        </>
      )}
    </nav>
  );
}

export function Shell({ children }: { children: ReactNode }): ReactElement {
  const { session } = useSession();
  const profile = useProfile();
  const navigate = useNavigate();
  const name = profile.data?.display_name || session?.user.email || '';
  return (
    <div className="shell">
      <header className="topbar">
        <NavLink to="/shop" className="brand">
          <span className="brand__mark" aria-hidden="true">
            ◆
          </span>
          Corner Market
          <span className="brand__tag">supadispatch demo</span>
        </NavLink>
        <div className="topbar__right">
          <ConnectionStatus />
          <NotificationBell className="topbar__bell" inbox={{ emptyText: 'No notifications yet.' }} />
          <span className="topbar__user" title={session?.user.email}>
            {name}
          </span>
          <button
            type="button"
            className="button button--quiet"
            onClick={async () => {
              await supabase.auth.signOut();
              navigate('/signin');
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      <div className="shell__body">
        <Nav />
        <main className="content">{children}</main>
      </div>
    </div>
  );
}
