/** Default ports, chosen to match `supabase start` where it has the same service. */
export interface StackPorts {
  /** API gateway: /rest/v1, /auth/v1, /realtime/v1, /functions/v1 (Supabase: 54321). */
  api: number;
  /** PostgreSQL (Supabase: 54322). */
  db: number;
  /** Mail catcher web UI and HTTP API (Supabase's Inbucket/Mailpit: 54324). */
  mail: number;
  /** Mail catcher SMTP (Supabase: local_smtp.smtp_port, 54325). */
  smtp: number;
  /** Webhook sink (no Supabase equivalent). */
  webhookSink: number;
}

export const defaultPorts: StackPorts = {
  api: 54321,
  db: 54322,
  mail: 54324,
  smtp: 54325,
  webhookSink: 54326,
};

/** Ports may be moved with SUPADISPATCH_<NAME>_PORT, e.g. SUPADISPATCH_API_PORT=64321. */
export function resolvePorts(env: NodeJS.ProcessEnv = process.env): StackPorts {
  const pick = (name: string, fallback: number): number => {
    const raw = env[`SUPADISPATCH_${name}_PORT`];
    if (raw === undefined || raw === '') return fallback;
    const port = Number(raw);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new Error(`SUPADISPATCH_${name}_PORT: "${raw}" is not a port number (1-65535)`);
    }
    return port;
  };
  return {
    api: pick('API', defaultPorts.api),
    db: pick('DB', defaultPorts.db),
    mail: pick('MAIL', defaultPorts.mail),
    smtp: pick('SMTP', defaultPorts.smtp),
    webhookSink: pick('WEBHOOK_SINK', defaultPorts.webhookSink),
  };
}
