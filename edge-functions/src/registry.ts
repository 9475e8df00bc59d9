/**
 * The shape of `supabase/functions/_generated/registry.ts`, which `supadispatch gen` writes from
 * dispatch.config.ts. The functions receive the module whole: `serve(registry)`.
 */
export interface RegistryChannel {
  name: string;
  transport: string;
  audience: string;
  delaySeconds: number;
}

export interface RegistryEvent {
  id: string;
  table: string | null;
  operations: string[];
  channels: RegistryChannel[];
  /** `{{var}}` templates: subject, title, message, actionUrl, actionLabel, html, text, payload, ... */
  content: Record<string, unknown>;
  /** type, category, userConfigurable, ... */
  metadata: Record<string, unknown>;
  strict: boolean;
  /** The event module (level 3), when the event has one: its exports. */
  module: unknown;
}

/** A table as the registry names it. */
export interface RegistryTable {
  schema: string;
  name: string;
}

export interface Registry {
  events: Record<string, RegistryEvent>;
  /** Settings per transport, as in the config (provider, from, secret names; never secret values). */
  transports?: Record<string, Record<string, unknown>>;
  /** Audiences by name: their kind, and the static recipients of `system` audiences. */
  audiences?: Record<string, { kind: string; recipients?: Record<string, unknown>[] }>;
  /** The admin audience, when the config names one. */
  admin?: string | null;
  /** Where users and their email addresses live. */
  users?: {
    table: RegistryTable;
    id: string;
    email: { table: RegistryTable; id: string; column: string };
  };
}
