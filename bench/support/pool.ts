/**
 * A pg.Pool for a measure, with an error handler: a pooled connection that the server ends while it
 * is idle (a terminated backend, a restart) is dropped and replaced on the next query, instead of
 * its 'error' event crashing the measure (node-postgres throws an unhandled pool 'error'). A CI run of
 * the quick suite lost worker-sql-cost so, one second in, to a backend ended by "administrator
 * command" on the shared test stack.
 */
import pg from 'pg';

export function benchPool(connectionString: string, max: number): pg.Pool {
  const pool = new pg.Pool({ connectionString, max });
  pool.on('error', (error) => console.log(`  (an idle pooled connection was ended: ${error.message})`));
  return pool;
}
