import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { build } from 'esbuild';
import { type Browser, chromium } from 'playwright-core';
import { repoRoot } from '../../src/paths.ts';

/**
 * Browser tests: Debian's Chromium driven by playwright-core (browsers are never downloaded), and
 * a page on its own origin whose script is `entry` bundled for the browser with esbuild (so it can
 * import @supabase/supabase-js from node_modules).
 */
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function chromiumMissing(): string | false {
  return existsSync(chromiumPath) ? false : `no Chromium at ${chromiumPath} (set CHROMIUM_PATH)`;
}

export interface BrowserPage {
  browser: Browser;
  /** URL of the page that loads the bundled script. */
  pageUrl: string;
  close(): Promise<void>;
}

export async function startBrowserPage(entry: string): Promise<BrowserPage> {
  const bundle = await build({
    stdin: { contents: entry, resolveDir: repoRoot, loader: 'js' },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    write: false,
    logLevel: 'silent',
  });
  const script = bundle.outputFiles[0].text;
  const server: Server = createServer((req, res) => {
    if (req.url === '/app.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(script);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><html><body><script src="/app.js"></script></body></html>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  const pageUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`;
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  return {
    browser,
    pageUrl,
    async close() {
      await browser.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
