/**
 * The shape of `supabase/functions/_generated/registry.ts`, which `supadispatch gen` writes from
 * dispatch.config.ts. The functions receive it whole: `serve(registry)`.
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
  content: Record<string, unknown>;
  metadata: Record<string, unknown>;
  strict: boolean;
  /** The event module (level 3), when the event has one. */
  module: unknown;
}

export interface Registry {
  events: Record<string, RegistryEvent>;
}
