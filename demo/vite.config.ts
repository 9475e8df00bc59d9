/**
 * The demo's Vite config. Workspace packages (`supadispatch`, `@supadispatch/react`) resolve to their
 * TypeScript sources through the `supadispatch-source` export condition, so the demo runs on the code
 * in this repository with no build step. The port comes from DEMO_PORT (default 5173) and is strict:
 * `npm start` and the end-to-end tests know where the app is.
 */
import react from '@vitejs/plugin-react';
import { defaultClientConditions, defineConfig } from 'vite';

const port = Number(process.env.DEMO_PORT ?? 5173);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  throw new Error(`DEMO_PORT: not a port number: ${JSON.stringify(process.env.DEMO_PORT)}`);
}

export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  resolve: {
    conditions: ['supadispatch-source', ...defaultClientConditions],
  },
  server: { host: '127.0.0.1', port, strictPort: true },
  preview: { host: '127.0.0.1', port, strictPort: true },
  // one chunk: React, supabase-js and the SDK make ~580 kB minified (170 kB gzipped), fine for a demo
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 800 },
});
