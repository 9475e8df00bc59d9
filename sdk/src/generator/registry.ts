/**
 * The Edge Functions' registry: the inline events' content and channels, and the event modules as
 * static imports (relative to the registry file, so Deno bundles them), plus transports settings
 * (secret names only) and system recipients.
 */
import path from 'node:path';
import type { NormalizedConfig } from '../config/model.ts';
import { TS_HEADER } from './header.ts';
import { channelNames } from './sql/event.ts';
import { stableJson } from './sql/util.ts';

/**
 * @param configDir directory of dispatch.config.ts (module paths are relative to it)
 * @param registryFile absolute path of the registry file being written
 */
export function generateRegistry(config: NormalizedConfig, configDir: string, registryFile: string): string {
  const imports: string[] = [];
  const events: string[] = [];
  config.events.forEach((e, i) => {
    let moduleRef = 'null';
    if (e.module) {
      let rel = path
        .relative(path.dirname(registryFile), path.resolve(configDir, e.module))
        .split(path.sep)
        .join('/');
      if (!rel.startsWith('.')) rel = `./${rel}`;
      imports.push(`import * as module${i} from '${rel}';`);
      moduleRef = `module${i}`;
    }
    const names = channelNames(e.channels);
    const def = {
      channels: e.channels.map((c, j) => ({
        audience: c.audience,
        delaySeconds: c.delaySeconds,
        name: names[j],
        transport: c.transport,
      })),
      content: e.content,
      id: e.id,
      metadata: e.metadata,
      operations: e.on,
      strict: e.strict,
      table: e.table ? `${e.table.schema}.${e.table.name}` : null,
    };
    const json = stableJson(def, 2).replace(/\n/g, '\n  ');
    events.push(`  ${JSON.stringify(e.id)}: ${json.slice(0, -4)},\n    "module": ${moduleRef}\n  },`);
  });
  const audiences = Object.fromEntries(
    config.audiences.map((a) => [
      a.name,
      a.kind === 'system' ? { kind: 'system', recipients: a.recipients } : { kind: a.kind },
    ]),
  );
  return [
    TS_HEADER,
    '// Imported by the dispatch-* Edge Functions (Deno).',
    '// deno-lint-ignore-file',
    ...imports,
    '',
    'export interface RegistryChannel {',
    '  name: string;',
    '  transport: string;',
    '  audience: string;',
    '  delaySeconds: number;',
    '}',
    'export interface RegistryEvent {',
    '  id: string;',
    '  table: string | null;',
    '  operations: string[];',
    '  channels: RegistryChannel[];',
    '  content: Record<string, unknown>;',
    '  metadata: Record<string, unknown>;',
    '  strict: boolean;',
    '  // deno-lint-ignore no-explicit-any',
    '  module: any;',
    '}',
    '',
    'export const events: Record<string, RegistryEvent> = {',
    ...events,
    '};',
    '',
    `export const transports = ${stableJson(config.transports, 2)};`,
    '',
    `export const audiences = ${stableJson(audiences, 2)};`,
    '',
    `export const admin = ${JSON.stringify(config.admin ?? null)};`,
    '',
    `export const users = ${stableJson(config.users, 2)};`,
    '',
  ].join('\n');
}
