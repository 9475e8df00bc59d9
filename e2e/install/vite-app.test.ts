/**
 * "A small Vite app outside the repository" (issue 18): supadispatch and @supadispatch/react packed
 * and installed from their tarballs into a fresh Vite + React app (vite, react, react-dom and
 * supabase-js from npm), built with `vite build`, served as static files and rendered in Chromium.
 * Against the stack, with a signed-in user, the page shows a live count that a database write moves.
 */
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { chromiumMissing, chromiumPath } from '../../local/test/support/browser.ts';
import { dbPool, runId, Users } from '../../local/test/support/conformance.ts';
import { testTarget } from '../../local/test/support/env.ts';
import { asInstalled, installedVersion, npmInstall, ok, packPackages } from './support.ts';

// Vite 8.3.8: 8.4.0's lock names a package npm ci may refuse (npm.tsv's note).
const vitePackages = ['vite@8.3.8', '@vitejs/plugin-react@6.3.0'];
const appPackages = ['@tanstack/react-query', '@supabase/supabase-js', 'zustand'];
/** The React majors the package supports: this repository's (19), and 18. */
const reactVersions = [installedVersion('react'), '18.3.1'];

const indexHtml = `<!doctype html>
<html lang="en">
  <head><meta charset="utf-8" /><title>supadispatch vite app</title></head>
  <body><div id="root"></div><script type="module" src="/src/main.tsx"></script></body>
</html>
`;

const viteConfig = `import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({ plugins: [react()] });
`;

// The app reads the stack and the session from its URL (?url=&key=&access=&refresh=), so one build
// serves every run. It also renders the components over a client of fixed state (the live contract
// on a plain zustand store, start and stop only counted): the packed bindings at work in this React
// without a server.
const mainTsx = `import { createClient } from '@supabase/supabase-js';
import { DispatchProvider, NotificationBell, useDispatchStatus, useUnreadCount } from '@supadispatch/react';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { fixedClient } from './fixed-client';

const params = new URLSearchParams(window.location.search);
const supabase = createClient(params.get('url') ?? 'http://127.0.0.1:9', params.get('key') ?? 'anon', {
  auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
});
function Unread() {
  return (
    <p>
      Unread: <output data-testid="unread">{useUnreadCount()}</output>{' '}
      <span data-testid="status">{useDispatchStatus()}</span>
    </p>
  );
}

async function main() {
  const access = params.get('access');
  const refresh = params.get('refresh');
  if (access && refresh) await supabase.auth.setSession({ access_token: access, refresh_token: refresh });
  createRoot(document.getElementById('root')!).render(
    <StrictMode>
      <h1 data-testid="title">supadispatch in a Vite app</h1>
      <section data-testid="fixed">
        <DispatchProvider client={fixedClient(supabase)}>
          <NotificationBell />
        </DispatchProvider>
      </section>
      <section data-testid="live">
        <DispatchProvider supabase={supabase}>
          <Unread />
          <NotificationBell />
        </DispatchProvider>
      </section>
    </StrictMode>,
  );
}
void main();
`;

const fixedClientTs = `import { createDispatchClient } from 'supadispatch/client';
import { createStore } from 'zustand/vanilla';

/** The live contract over fixed state; every call is noted in window.__dispatchCalls. */
export function fixedClient(supabase: Parameters<typeof createDispatchClient>[0]['supabase']) {
  const calls: string[] = [];
  (window as unknown as { __dispatchCalls: string[] }).__dispatchCalls = calls;
  const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();
  const note = (n: { id: string; title: string; actionUrl: string | null; minutes: number }) => ({
    id: n.id, eventId: null, type: 'info', title: n.title, message: 'From the fixed store', actionUrl: n.actionUrl,
    actionLabel: n.actionUrl ? 'Open' : null, metadata: {}, read: false, createdAt: minutesAgo(n.minutes),
  });
  const store = createStore(() => ({
    status: 'live', userId: 'fixed-user', hasMore: false, error: null,
    counters: { unread_notifications: { value: 2, seq: 1 } },
    notifications: [
      note({ id: 'n2', title: 'Order shipped', actionUrl: '#order-2', minutes: 5 }),
      note({ id: 'n1', title: 'Welcome', actionUrl: null, minutes: 90 }),
    ],
  }));
  const result = (data: unknown) => Promise.resolve({ data, error: null });
  const live = {
    store,
    start: () => (calls.push('start'), () => void calls.push('stop')),
    stop: () => void calls.push('stop'),
    markRead: (ids: string[]) => (calls.push('markRead:' + ids.join(',')), result(ids.length)),
    markAllRead: () => (calls.push('markAllRead'), result(0)),
    loadMore: () => result(0),
    refresh: () => result(null),
    setPreference: () => result(null),
  };
  return Object.assign(createDispatchClient({ supabase }), live) as never;
}
`;

const contentTypes: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.svg': 'image/svg+xml',
};

/** Serves `root` (the build) on a free port; unknown paths get index.html, as an SPA host does. */
async function serveStatic(root: string): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(
      /^(\.\.[/\\])+/,
      '',
    );
    const file = join(root, path);
    const found =
      file.startsWith(root) && existsSync(file) && statSync(file).isFile() ? file : join(root, 'index.html');
    res.writeHead(200, { 'content-type': contentTypes[extname(found)] ?? 'application/octet-stream' });
    res.end(readFileSync(found));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  return { url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`, server };
}

// Packed once for every app below.
let packed: { base: string; tarballs: string[] } | null = null;
function packOnce(): { base: string; tarballs: string[] } {
  if (!packed) {
    const base = mkdtempSync(join(tmpdir(), 'supadispatch-vite-'));
    packed = { base, tarballs: packPackages(join(base, 'packs'), ['sdk', 'react']) };
  }
  return packed;
}
after(() => {
  if (packed) rmSync(packed.base, { recursive: true, force: true });
});

for (const reactVersion of reactVersions)
  describe(`a Vite + React ${reactVersion} app outside the repository, from the packed packages`, () => {
    let app = '';
    let served: { url: string; server: Server } | null = null;
    let browser: Browser | null = null;

    before(() => {
      const { base, tarballs } = packOnce();
      app = join(base, `app-react-${reactVersion}`);
      mkdirSync(join(app, 'src'), { recursive: true });
      writeFileSync(
        join(app, 'package.json'),
        `${JSON.stringify({ name: 'vite-app', private: true, type: 'module' }, null, 2)}\n`,
      );
      writeFileSync(join(app, 'index.html'), indexHtml);
      writeFileSync(join(app, 'vite.config.js'), viteConfig);
      writeFileSync(join(app, 'src', 'main.tsx'), mainTsx);
      writeFileSync(join(app, 'src', 'fixed-client.ts'), fixedClientTs);
      npmInstall(app, [
        ...tarballs,
        `react@${reactVersion}`,
        `react-dom@${reactVersion}`,
        ...appPackages.map(asInstalled),
        ...vitePackages,
      ]);
    });

    after(async () => {
      await browser?.close();
      if (served) await new Promise<void>((resolve) => served!.server.close(() => resolve()));
    });

    it('vite build bundles the app with supadispatch and @supadispatch/react', () => {
      const output = ok(app, 'npx', ['vite', 'build'], { timeoutMs: 300_000 });
      assert.match(output, /built in/);
      const assets = readdirSync(join(app, 'dist', 'assets'));
      const script = assets.find((f) => f.endsWith('.js'));
      assert.ok(script, `a script in dist/assets: ${assets.join(', ')}`);
      const bundle = readFileSync(join(app, 'dist', 'assets', script), 'utf8');
      assert.match(bundle, /sd-bell__button/, 'the bell of @supadispatch/react is in the bundle');
      assert.match(bundle, /dispatch_initial_state|dispatch_mark_read/, 'the client core is in the bundle');
    });

    /** Opens the built app in Chromium with `query`; the page, with its console errors collected. */
    async function open(query: Record<string, string>): Promise<{ page: Page; errors: string[] }> {
      served ??= await serveStatic(join(app, 'dist'));
      browser ??= await chromium.launch({
        executablePath: chromiumPath,
        args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      });
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(`${served.url}?${new URLSearchParams(query)}`);
      return { page, errors };
    }

    it('renders in Chromium: the bell and inbox of the packed package work from the keyboard', async (t) => {
      const missing = chromiumMissing();
      if (missing) {
        t.skip(missing);
        return;
      }
      const { page, errors } = await open({});
      await page.getByTestId('title').waitFor({ timeout: 15_000 });
      assert.equal(await page.getByTestId('title').textContent(), 'supadispatch in a Vite app');
      const installed = JSON.parse(readFileSync(join(app, 'node_modules', 'react', 'package.json'), 'utf8'));
      assert.equal(installed.version, reactVersion);

      const fixed = page.getByTestId('fixed');
      const bell = fixed.getByRole('button', { name: 'Notifications, 2 unread' });
      await bell.focus();
      await page.keyboard.press('Enter');
      assert.equal(await bell.getAttribute('aria-expanded'), 'true');
      const items = fixed.getByRole('listitem');
      assert.equal(await items.count(), 2);
      assert.match((await items.first().textContent()) ?? '', /Order shipped.*5 minutes ago/);
      await page.keyboard.press('ArrowDown');
      assert.equal(
        await page.evaluate(() => document.activeElement?.textContent?.startsWith('Welcome')),
        true,
      );
      await page.keyboard.press('Enter'); // an item without a link: its button marks it read
      await page.keyboard.press('Escape');
      assert.equal(await bell.getAttribute('aria-expanded'), 'false');
      assert.equal(await page.evaluate(() => document.activeElement?.className), 'sd-bell__button');
      // a production build: StrictMode does not mount twice, so one start
      const calls = await page.evaluate(
        () => (window as unknown as { __dispatchCalls: string[] }).__dispatchCalls,
      );
      assert.deepEqual(calls, ['start', 'markRead:n1']);
      assert.deepEqual(errors, []);
      await page.close();
    });

    it('in Chromium, signed in, it shows a live count that a database write moves', async (t) => {
      const target = testTarget();
      const missing =
        chromiumMissing() || (!target && 'no stack to test against (SUPABASE_URL, SUPABASE_ANON_KEY, ...)');
      if (missing) {
        t.skip(missing);
        return;
      }
      const users = new Users(target!, runId());
      const db = dbPool(target!);
      try {
        const alice = await users.create('vite');
        await db.query(`select dispatch.notify($1, null, 'Hello', 'from the database')`, [alice.id]);
        const { page, errors } = await open({
          url: target!.url,
          key: target!.anonKey,
          access: alice.session.access_token,
          refresh: alice.session.refresh_token,
        });
        const unread = page.getByTestId('unread');
        const bell = page.getByTestId('live').getByRole('button', { name: 'Notifications, 2 unread' });
        await page.getByTestId('status').filter({ hasText: 'live' }).waitFor({ timeout: 20_000 });
        assert.equal(await unread.textContent(), '1');
        await db.query(`select dispatch.notify($1, null, 'Again', 'from the database')`, [alice.id]);
        await unread.filter({ hasText: '2' }).waitFor({ timeout: 20_000 });
        assert.ok(await bell.isVisible());
        assert.deepEqual(errors, []);
        await page.close();
        await db.query('delete from dispatch.notifications where user_id = $1', [alice.id]);
      } finally {
        await users.cleanup();
        await db.end();
      }
    });
  });
