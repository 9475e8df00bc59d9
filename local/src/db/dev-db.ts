/**
 * A database-only stack for developing the stack's own services before the whole stack runs:
 *   npx tsx local/src/db/dev-db.ts start [port] [stateDir]   (defaults 55432, /tmp/supadispatch-dev)
 *   npx tsx local/src/db/dev-db.ts stop [port] [stateDir]
 * Prints the admin (supabase_admin) and postgres URLs. Password is `postgres` for both.
 */
import { join } from 'node:path';
import { createLogger } from '../logger.ts';
import { applyBootstrap } from './bootstrap.ts';
import {
  clusterRunning,
  ensureCluster,
  localPassword,
  serverLogFile,
  startCluster,
  stopCluster,
} from './cluster.ts';

const [command = 'start', portArg = '55432', stateDir = '/tmp/supadispatch-dev'] = process.argv.slice(2);
const port = Number(portArg);
const log = createLogger();
const options = {
  dataDir: join(stateDir, 'db'),
  runDir: join(stateDir, 'run'),
  logFile: serverLogFile(join(stateDir, 'run')),
  port,
  log,
};
const adminUrl = `postgresql://supabase_admin:${localPassword}@127.0.0.1:${port}/postgres`;
if (command === 'start') {
  ensureCluster(options);
  if (!clusterRunning(options.dataDir)) startCluster(options);
  await applyBootstrap(adminUrl, log);
  console.log(`ADMIN_DB_URL=${adminUrl}`);
  console.log(`DB_URL=postgresql://postgres:${localPassword}@127.0.0.1:${port}/postgres`);
} else if (command === 'stop') {
  stopCluster(options);
} else {
  console.error(`unknown command ${command}: use start or stop`);
  process.exit(1);
}
