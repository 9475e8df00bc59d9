/**
 * The typed client module for the app: the config's names as unions (event ids, counter names,
 * transports, audiences), counter and event metadata, and `dispatch`, the client core
 * (`supadispatch/client`: keys, RPCs, queries, mutations) typed to them. Only constants are
 * generated; the code they feed lives in sdk/src/client, where it is type-checked and tested.
 */
import { dispatchKeys } from '../client/keys.ts';
import type { NormalizedConfig } from '../config/model.ts';
import { TS_HEADER } from './header.ts';
import { membershipSql } from './sql/audience.ts';

const q = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
const tsValue = (v: unknown): string => {
  if (Array.isArray(v)) return `[${v.map(tsValue).join(', ')}]`;
  if (typeof v === 'string') return q(v);
  if (v && typeof v === 'object') {
    const entries = Object.entries(v)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => a.localeCompare(b));
    return `{ ${entries.map(([k, x]) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : q(k)}: ${tsValue(x)}`).join(', ')} }`;
  }
  return JSON.stringify(v);
};

export function generateClient(config: NormalizedConfig): string {
  const eventIds = config.events.map((e) => e.id);
  const counterNames = [...config.counters.map((k) => k.name), 'unread_notifications'].sort();
  const transports = Object.keys(config.transports).sort();
  const audiences = config.audiences.map((a) => a.name);
  const topicAudiences = config.audiences.filter((a) => membershipSql(a, 'x') !== null).map((a) => a.name);
  const counters: Record<string, unknown> = {
    // the key the core SQL's unread_notifications broadcasts (sql/core/050_notifications.sql)
    unread_notifications: { scope: 'user', invalidates: [[...dispatchKeys.allNotifications()]] },
  };
  for (const k of config.counters) {
    counters[k.name] = {
      scope: k.scope.kind === 'audience' ? 'audience' : 'user',
      ...(k.scope.kind === 'audience' ? { audience: k.scope.audience } : {}),
      invalidates: k.invalidates,
    };
  }
  const events: Record<string, unknown> = {};
  for (const e of config.events) {
    events[e.id] = {
      category: typeof e.metadata.category === 'string' ? e.metadata.category : null,
      transports: [...new Set(e.channels.map((c) => c.transport))].sort(),
      type: e.metadata.type ?? 'info',
      userConfigurable: e.metadata.userConfigurable !== false,
    };
  }
  const lines = [
    TS_HEADER,
    '/* eslint-disable */',
    "import { bindDispatch, type CounterMeta, type EventMeta } from 'supadispatch/client';",
    "import type * as core from 'supadispatch/client';",
    '',
    '// ---- names ----------------------------------------------------------------------------------',
    '',
    `export const eventIds = ${tsValue(eventIds)} as const;`,
    'export type EventId = (typeof eventIds)[number];',
    '',
    `export const counterNames = ${tsValue(counterNames)} as const;`,
    'export type CounterName = (typeof counterNames)[number];',
    '',
    `export const transports = ${tsValue(transports)} as const;`,
    'export type Transport = (typeof transports)[number];',
    '',
    `export const audienceNames = ${tsValue(audiences)} as const;`,
    'export type AudienceName = (typeof audienceNames)[number];',
    '',
    '/** Audiences with a realtime topic `dispatch:audience:<name>`. */',
    `export const topicAudiences = ${tsValue(topicAudiences)} as const;`,
    `export const adminAudience = ${config.admin ? q(config.admin) : 'null'};`,
    '',
    '// ---- metadata ---------------------------------------------------------------------------------',
    '',
    '/** Each counter: its scope and the query keys to invalidate when it moves. */',
    `export const counters = ${tsValue(counters)} as const satisfies Record<CounterName, CounterMeta<AudienceName>>;`,
    '',
    '/** Each event: category, transports, type and whether users may turn it off. */',
    `export const events = ${tsValue(events)} as const satisfies Record<EventId, EventMeta<Transport>>;`,
    '',
    '// ---- the client core, typed to this config -----------------------------------------------------',
    '',
    '/** Everything above in one object: types the client core and `@supadispatch/react`. */',
    'export const dispatchSchema = { eventIds, counterNames, transports, audienceNames, topicAudiences, counters, events } as const;',
    'export type AppDispatchSchema = typeof dispatchSchema;',
    '',
    '/** Keys, RPCs (`{ data, error }`), `queryOptions` and `mutationOptions` for this config. */',
    'export const dispatch = bindDispatch(dispatchSchema);',
    '',
    'export type InitialState = core.InitialState<AppDispatchSchema>;',
    'export type DispatchNotification = core.DispatchNotification<AppDispatchSchema>;',
    'export type Preference = core.Preference<AppDispatchSchema>;',
    'export type Preferences = core.Preferences<AppDispatchSchema>;',
    'export type PreferenceChange = core.PreferenceChange<AppDispatchSchema>;',
    'export type ReceiptFilter = core.ReceiptFilter<AppDispatchSchema>;',
    'export type OccurrenceFilter = core.OccurrenceFilter<AppDispatchSchema>;',
    '',
  ];
  return lines.join('\n');
}
