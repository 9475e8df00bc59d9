import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StackContext } from '../context.ts';

/**
 * "Works with no setup" for supadispatch's functions on the local stack: the stack gives them the
 * environment a hosted project gets with `supabase secrets set` (README, "Hosted setup"), and
 * stores the worker's URL and secret in Vault where the SQL core's poke reads them.
 */

/** The function pg_net pokes (without a JWT: its config.toml section says `verify_jwt = false`). */
export const DISPATCH_WORKER_FUNCTION = 'dispatch-worker';

/** Default name of the webhook signing secret (`transports.webhook.signingSecret` in the config). */
export const DEFAULT_WEBHOOK_SECRET_NAME = 'DISPATCH_WEBHOOK_SECRET';

/** A name the generated registry gives as `"signingSecret": "<NAME>"`, if any. */
export function configuredSigningSecretName(functionsDir: string): string | null {
  const registry = join(functionsDir, '_generated', 'registry.ts');
  if (!existsSync(registry)) return null;
  try {
    const match = /"signingSecret"\s*:\s*"([A-Za-z_][A-Za-z0-9_]*)"/.exec(readFileSync(registry, 'utf8'));
    return match ? match[1] : null;
  } catch {
    return null;
  }
}

export const DISPATCH_WORKER_SECRET = 'DISPATCH_WORKER_SECRET';

/**
 * Defaults for supadispatch's functions (the project's `.env` / `[edge_runtime.secrets]` override
 * them): the worker secret Vault holds too, email through the mail catcher's Resend API (it accepts
 * any key), webhooks signed with the secret the webhook sink verifies, and the sink and catcher
 * allowed past the SSRF guard.
 */
export function dispatchFunctionDefaults(ctx: StackContext, functionsDir: string): Record<string, string> {
  const hostPort = (url: string) => new URL(url).host;
  const signing = configuredSigningSecretName(functionsDir);
  const hookSecret = ctx.config.auth?.sendEmailHook?.secrets;
  return {
    ...(ctx.keys.workerSecret ? { [DISPATCH_WORKER_SECRET]: ctx.keys.workerSecret } : {}),
    RESEND_API_KEY: 're_local_supadispatch',
    RESEND_API_URL: ctx.urls.mail,
    [DEFAULT_WEBHOOK_SECRET_NAME]: ctx.keys.webhookSecret,
    ...(signing && !signing.startsWith('SUPABASE_') ? { [signing]: ctx.keys.webhookSecret } : {}),
    DISPATCH_ALLOWED_HOSTS: [hostPort(ctx.urls.webhookSink), hostPort(ctx.urls.mail)].join(','),
    // The Send Email hook's secret, when config.toml enables the hook: dispatch-auth-email verifies
    // the hook's signature with it, and the worker opens the sealed auth links with it.
    ...(hookSecret ? { SEND_EMAIL_HOOK_SECRET: hookSecret } : {}),
  };
}

/**
 * Vault secrets `dispatch_worker_url` (this stack's functions URL) and `dispatch_worker_secret` (the
 * functions' DISPATCH_WORKER_SECRET), created or updated on every start (the URL follows the port).
 * Nothing is done where Vault is missing.
 */
export async function configureWorkerVault(
  ctx: StackContext,
  workerSecret: string | undefined,
): Promise<void> {
  if (!workerSecret) return;
  const secrets = {
    dispatch_worker_url: `${ctx.urls.functions}/${DISPATCH_WORKER_FUNCTION}`,
    dispatch_worker_secret: workerSecret,
  };
  const client = await ctx.adminPool.connect();
  try {
    const { rows } = await client.query(`select to_regclass('vault.secrets') is not null as vault`);
    if (!rows[0]?.vault) {
      ctx.log('functions', 'no Vault: the worker is not poked (dispatch.tick() still runs it)');
      return;
    }
    for (const [name, value] of Object.entries(secrets)) {
      const existing = await client.query('select id from vault.secrets where name = $1', [name]);
      if (existing.rows.length > 0) {
        await client.query('select vault.update_secret($1, $2)', [existing.rows[0].id, value]);
      } else {
        await client.query('select vault.create_secret($1, $2)', [value, name]);
      }
    }
    ctx.log(
      'functions',
      `Vault: dispatch_worker_url = ${secrets.dispatch_worker_url}, dispatch_worker_secret set`,
    );
  } finally {
    client.release();
  }
}
