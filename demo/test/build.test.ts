/**
 * `vite build` of the demo: it bundles with the workspace packages resolved to their sources (the
 * `supadispatch-source` condition), takes the Supabase URL from the environment, and the page it
 * builds runs in real Chromium: a visitor on a signed-in page lands on the sign-in form.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const demoDir = fileURLToPath(new URL('..', import.meta.url));
const vite = join(demoDir, '..', 'node_modules', '.bin', 'vite');
// a URL nothing listens on: the page must render its sign-in form without reaching a server
const supabaseUrl = 'http://127.0.0.1:9/demo-build-test';
const types: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.map': 'application/json',
};

/** The built files, with index.html for every path that is not a file (the app's routes). */
function serve(dir: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(
      /^(\.\.[/\\])+/,
      '',
    );
    let file = join(dir, path);
    if (!file.startsWith(dir) || !existsSync(file) || path.endsWith('/')) file = join(dir, 'index.html');
    res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve({
        server,
        url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
      });
    }),
  );
}

describe('vite build of demo/', () => {
  const outDir = mkdtempSync(join(tmpdir(), 'supadispatch-demo-build-'));
  let js = '';
  let css = '';

  before(() => {
    const result = spawnSync(vite, ['build', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'], {
      cwd: demoDir,
      env: {
        ...process.env,
        VITE_SUPABASE_URL: supabaseUrl,
        VITE_SUPABASE_ANON_KEY: 'anon-key-of-the-build-test',
      },
      encoding: 'utf8',
      timeout: 300_000,
    });
    assert.equal(result.status, 0, `vite build failed:\n${result.stdout}\n${result.stderr}`);
    const assets = readdirSync(join(outDir, 'assets'));
    js = assets
      .filter((f) => f.endsWith('.js'))
      .map((f) => readFileSync(join(outDir, 'assets', f), 'utf8'))
      .join('\n');
    css = assets
      .filter((f) => f.endsWith('.css'))
      .map((f) => readFileSync(join(outDir, 'assets', f), 'utf8'))
      .join('\n');
  });
  after(() => rmSync(outDir, { recursive: true, force: true }));

  it('bundles the app, the SDK and @supadispatch/react from their sources, with the env settings', () => {
    const html = readFileSync(join(outDir, 'index.html'), 'utf8');
    assert.match(html, /<script type="module" crossorigin src="\/assets\/index-[\w-]+\.js">/);
    assert.match(html, /<link rel="stylesheet" crossorigin href="\/assets\/index-[\w-]+\.css">/);
    assert.ok(js.includes(supabaseUrl), 'VITE_SUPABASE_URL is in the bundle');
    assert.ok(js.includes('dispatch_initial_state'), "the client core's RPCs (sdk/src/client)");
    assert.ok(js.includes('Notifications, none unread'), "the bell's label (react/src)");
    assert.ok(js.includes('pending_orders'), 'the generated schema');
    assert.match(css, /\.sd-inbox\{/, "the demo's styles for the SDK's inbox");
  });

  it('runs in Chromium: a signed-out visitor of /orders gets the sign-in form', async (t) => {
    if (!existsSync('/usr/bin/chromium')) return t.skip('no /usr/bin/chromium');
    const { server, url } = await serve(outDir);
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(`${url}/orders`);
      await page.getByRole('heading', { name: 'Sign in' }).waitFor({ timeout: 30_000 });
      assert.equal(new URL(page.url()).pathname, '/signin');
      assert.equal(new URL(page.url()).searchParams.get('next'), '/orders');
      assert.equal(await page.getByLabel('Email').count(), 1);
      assert.equal(await page.getByLabel('Password').count(), 1);
      await page.getByRole('link', { name: 'Forgot your password?' }).click();
      await page.getByRole('heading', { name: 'Reset your password' }).waitFor({ timeout: 10_000 });
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
