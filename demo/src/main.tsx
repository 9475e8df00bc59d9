/**
 * The demo's entry: one supabase-js client, one TanStack QueryClient, and supadispatch's provider
 * over both (counters invalidate the queries they name), typed to the generated schema.
 */
import { DispatchProvider } from '@supadispatch/react';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter } from 'react-router';
import { App } from './app.tsx';
import { SessionProvider } from './auth/session.tsx';
import { dispatchSchema } from './dispatch.ts';
import { supabase } from './supabase.ts';
import './styles.css';

const queryClient = new QueryClient({
  defaultOptions: { queries: { retry: 1, refetchOnWindowFocus: false } },
});

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <DispatchProvider supabase={supabase} queryClient={queryClient} schema={dispatchSchema}>
        <SessionProvider>
          <BrowserRouter>
            <App />
          </BrowserRouter>
        </SessionProvider>
      </DispatchProvider>
    </QueryClientProvider>
  </StrictMode>,
);
