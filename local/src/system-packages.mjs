// The Debian packages the local stack needs, each with a file that proves it is installed.
// Plain JavaScript with no dependencies: scripts/bootstrap.mjs imports it before `npm install` (and
// installs the missing ones with apt-get when run as root); the stack checks it before it starts
// PostgreSQL, so a missing package is named with its install command instead of surfacing as
// PostgreSQL's `could not access file "pg_cron"` in a log file. Types: system-packages.d.mts.
//
// Where the proofs are looked for (Debian's layout of PostgreSQL 15 by default):
//   SUPADISPATCH_PG_BIN    the server's binaries (initdb, pg_ctl, postgres)
//   SUPADISPATCH_PG_SHARE  its share directory (extension/*.control)
// The tests point SUPADISPATCH_PG_SHARE at a folder without pg_cron to see the message.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const DEFAULT_PG_BIN = '/usr/lib/postgresql/15/bin';
export const DEFAULT_PG_SHARE = '/usr/share/postgresql/15';

export function pgBinDir(env = process.env) {
  return env.SUPADISPATCH_PG_BIN || DEFAULT_PG_BIN;
}

export function pgShareDir(env = process.env) {
  return env.SUPADISPATCH_PG_SHARE || DEFAULT_PG_SHARE;
}

/** The packages, in install order, each with what it gives the stack and the file it installs. */
export function systemPackages(env = process.env) {
  const extension = (name) => join(pgShareDir(env), 'extension', `${name}.control`);
  return [
    { name: 'postgresql-15', gives: 'PostgreSQL 15', proof: join(pgBinDir(env), 'postgres') },
    {
      name: 'postgresql-contrib',
      gives: 'the contrib extensions (pgcrypto, which the bootstrap creates)',
      proof: extension('pgcrypto'),
    },
    { name: 'postgresql-15-cron', gives: 'pg_cron (preloaded by the server)', proof: extension('pg_cron') },
    {
      name: 'postgresql-15-pgtap',
      gives: "pgTAP (database tests, as in Supabase's image)",
      proof: extension('pgtap'),
    },
  ];
}

/** The packages whose proof file is absent. */
export function missingSystemPackages(env = process.env, exists = existsSync) {
  return systemPackages(env).filter((p) => !exists(p.proof));
}

/** The one command that installs them (root needs no sudo, and a minimal image has none). */
export function installCommand(packages, root = process.getuid?.() === 0) {
  const names = packages.map((p) => p.name).join(' ');
  return `${root ? '' : 'sudo '}apt-get install -y --no-install-recommends ${names}`;
}

/** What to tell the user who starts the stack without them. */
export function missingSystemPackagesMessage(packages, root = process.getuid?.() === 0) {
  const lines = packages.map((p) => `  - ${p.name}: ${p.gives}; ${p.proof} is missing`);
  const sudo = root ? '' : 'sudo ';
  const them = packages.length === 1 ? 'it' : 'them';
  return [
    `the local stack needs ${packages.length === 1 ? 'a Debian package' : 'Debian packages'} that ${packages.length === 1 ? 'is' : 'are'} not installed:`,
    ...lines,
    '',
    `Install ${them} with:`,
    '',
    `  ${installCommand(packages, root)}`,
    '',
    `(run \`${sudo}apt-get update\` first if apt cannot find ${them}). In the supadispatch repository,`,
    `\`npm start\` would have installed ${them} for you: run as root it installs the missing packages with`,
    'apt-get before it starts the stack; run as another user it stops with the command above.',
  ].join('\n');
}
