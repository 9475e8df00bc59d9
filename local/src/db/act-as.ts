import type pg from 'pg';

/**
 * "Act as this JWT in a transaction", the one way the local stack runs SQL as a user so that RLS,
 * grants and `auth.uid()` are Postgres's own: begin, set the role and the claims transaction-locally,
 * run, commit or roll back. Every setting is `set_config(…, true)`, so it ends with the transaction
 * and a pooled connection goes back clean.
 *
 * What is set stays each caller's: PostgREST sets `search_path` and `request.method/path/headers/
 * cookies` and the role's `alter role … set` values; Realtime sets `realtime.topic` and empty
 * `request.headers`. The caller names them in `settings`; this module only decides how they are set.
 */

/** Who a transaction acts as, and the settings that go with it. */
export interface JwtSession {
  /** The role to become (`set_config('role', …)`): the token's `role` claim as the caller reads it. */
  role: string;
  /** `request.jwt.claims`, stored as JSON. */
  claims: Record<string, unknown>;
  /** The legacy `request.jwt.claim.<name>` settings, already as text (`sub`, `role`, …). */
  claim?: Record<string, string>;
  /** Further settings set together with the role: `search_path`, `request.method`, `realtime.topic`, … */
  settings?: Record<string, string>;
  /** Settings applied after the role switch, as the role: PostgREST's per-role `alter role … set` pairs. */
  roleSettings?: readonly (readonly [string, string])[];
}

export interface TransactionOptions {
  /** `begin read only`. */
  readOnly?: boolean;
  /** `rollback` ends the transaction even when `fn` succeeds: probes that must leave nothing behind. */
  end?: 'commit' | 'rollback';
}

/** Sets the session's role and settings in the transaction open on `client`. */
export async function switchTo(client: pg.ClientBase, session: JwtSession): Promise<void> {
  const pairs: [string, string][] = [
    ['role', session.role],
    ['request.jwt.claims', JSON.stringify(session.claims)],
    ...Object.entries(session.claim ?? {}).map(([name, value]): [string, string] => [
      `request.jwt.claim.${name}`,
      value,
    ]),
    ...Object.entries(session.settings ?? {}),
  ];
  await client.query(
    `select ${pairs.map((_, i) => `set_config($${2 * i + 1}, $${2 * i + 2}, true)`).join(', ')}`,
    pairs.flat(),
  );
  const roleSettings = session.roleSettings ?? [];
  if (roleSettings.length > 0) {
    await client.query('select set_config(k, v, true) from unnest($1::text[], $2::text[]) as x(k, v)', [
      roleSettings.map((r) => r[0]),
      roleSettings.map((r) => r[1]),
    ]);
  }
}

/**
 * Runs `fn` in one transaction on a connection of `pool`, as the pool's own role. For work that must
 * happen before the switch (Realtime's probe rows), `fn` calls `switchTo` itself; otherwise use `actAs`.
 * A connection whose rollback failed is released as broken, so the pool does not reuse it.
 */
export async function inTransaction<T>(
  pool: pg.Pool,
  fn: (client: pg.PoolClient) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const rollback = () =>
    client.query('rollback').then(
      () => {},
      (error: Error) => {
        broken = error;
      },
    );
  try {
    await client.query(options.readOnly ? 'begin read only' : 'begin');
    const result = await fn(client);
    if (options.end === 'rollback') await rollback();
    else await client.query('commit');
    return result;
  } catch (error) {
    await rollback();
    throw error;
  } finally {
    client.release(broken);
  }
}

/** Begin, act as `session`, run `fn`, commit (or roll back when `options.end` says so, or on error). */
export function actAs<T>(
  pool: pg.Pool,
  session: JwtSession,
  fn: (client: pg.PoolClient) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  return inTransaction(
    pool,
    async (client) => {
      await switchTo(client, session);
      return fn(client);
    },
    options,
  );
}
