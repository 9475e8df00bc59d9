/** The routes: signed-out pages, signed-in pages in the shell, admin pages behind the admin notice. */
import type { ReactElement } from 'react';
import { Navigate, Route, Routes } from 'react-router';
import { RequireAdmin, RequireAuth } from './auth/guards.tsx';
import { AdminCounters } from './pages/admin/counters.tsx';
import { AdminEvents } from './pages/admin/events.tsx';
import { AdminFailed } from './pages/admin/failed.tsx';
import { AdminReceipts } from './pages/admin/receipts.tsx';
import { AdminTrigger } from './pages/admin/trigger.tsx';
import { Forgot } from './pages/auth/forgot.tsx';
import { Reset } from './pages/auth/reset.tsx';
import { SignIn } from './pages/auth/sign-in.tsx';
import { SignUp } from './pages/auth/sign-up.tsx';
import { Orders } from './pages/orders.tsx';
import { PreferencesPage } from './pages/preferences.tsx';
import { Seller } from './pages/seller.tsx';
import { Shop } from './pages/shop.tsx';

const signedIn = (page: ReactElement) => <RequireAuth>{page}</RequireAuth>;
const admin = (page: ReactElement) => (
  <RequireAuth>
    <RequireAdmin>{page}</RequireAdmin>
  </RequireAuth>
);

export function App(): ReactElement {
  return (
    <Routes>
      <Route path="/signin" element={<SignIn />} />
      <Route path="/signup" element={<SignUp />} />
      <Route path="/forgot" element={<Forgot />} />
      <Route path="/reset" element={<Reset />} />
      <Route path="/shop" element={signedIn(<Shop />)} />
      <Route path="/orders" element={signedIn(<Orders />)} />
      <Route path="/seller" element={signedIn(<Seller />)} />
      <Route path="/preferences" element={signedIn(<PreferencesPage />)} />
      <Route path="/admin" element={<Navigate to="/admin/counters" replace />} />
      <Route path="/admin/counters" element={admin(<AdminCounters />)} />
      <Route path="/admin/receipts" element={admin(<AdminReceipts />)} />
      <Route path="/admin/failed" element={admin(<AdminFailed />)} />
      <Route path="/admin/events" element={admin(<AdminEvents />)} />
      <Route path="/admin/trigger" element={admin(<AdminTrigger />)} />
      <Route path="*" element={<Navigate to="/shop" replace />} />
    </Routes>
  );
}
