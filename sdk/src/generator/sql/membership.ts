/**
 * Redefines the core's audience hooks from the config: `dispatch.is_audience_member(uuid, text)`
 * (realtime topics `dispatch:audience:<name>`), `dispatch.user_audiences(uuid)` (initial state) and
 * `dispatch.is_admin(uuid)` (admin RPCs) from the config's `admin` audience.
 */
import type { NormalizedConfig } from '../../config/model.ts';
import { membershipSql } from './audience.ts';
import type { SqlObject } from './event.ts';
import { dollar, functionPrivileges, indent, literal } from './util.ts';

export function membershipObject(config: NormalizedConfig): SqlObject {
  const topical = config.audiences
    .map((a) => ({ name: a.name, sql: membershipSql(a, 'p_user_id') }))
    .filter((x): x is { name: string; sql: string } => x.sql !== null);
  const cases = topical.map((t) => `if p_audience = ${literal(t.name)} then\n  return ${t.sql};\nend if;`);
  const member = [
    'begin',
    '  if p_user_id is null or p_audience is null then',
    '    return false;',
    '  end if;',
    '  if exists (select from dispatch.audience_members m where m.audience = p_audience and m.user_id = p_user_id) then',
    '    return true;',
    '  end if;',
    indent(cases.join('\n'), 2),
    // The core's default: topic `admin` = dispatch.is_admin, unless the config names an `admin` audience.
    ...(config.audiences.some((a) => a.name === 'admin')
      ? []
      : ["  if p_audience = 'admin' and dispatch.is_admin(p_user_id) then", '    return true;', '  end if;']),
    '  return false;',
    'end',
  ]
    .filter((l) => l !== '')
    .join('\n');
  const names = [...new Set([...topical.map((t) => t.name), 'admin'])].sort();
  const audiencesBody = [
    'begin',
    '  return array(',
    '    select a from (',
    `      select n as a from unnest(${names.length ? `array[${names.map(literal).join(', ')}]::text[]` : "'{}'::text[]"}) n`,
    '      where dispatch.is_audience_member(p_user_id, n)',
    '      union',
    '      select m.audience from dispatch.audience_members m where m.user_id = p_user_id',
    '    ) s order by a',
    '  );',
    'end',
  ].join('\n');
  const parts = [
    '-- audiences (membership for topics, initial state and admin checks)',
    `create or replace function dispatch.is_audience_member(p_user_id uuid, p_audience text) returns boolean\nlanguage plpgsql stable security definer set search_path = '' as ${dollar(member)};\n${functionPrivileges('dispatch.is_audience_member(uuid, text)')}`,
    `create or replace function dispatch.user_audiences(p_user_id uuid) returns text[]\nlanguage plpgsql stable security definer set search_path = '' as ${dollar(audiencesBody)};\n${functionPrivileges('dispatch.user_audiences(uuid)')}`,
  ];
  const adminAudience = config.audiences.find((a) => a.name === config.admin);
  const adminSql = adminAudience ? membershipSql(adminAudience, 'p_user_id') : null;
  if (config.admin && adminSql) {
    const admin = [
      'begin',
      '  if p_user_id is null then',
      '    return false;',
      '  end if;',
      '  if exists (select from dispatch.admins a where a.user_id = p_user_id) then',
      '    return true;',
      '  end if;',
      "  -- the core's default: app_metadata.role = 'admin' (writable only with the service role)",
      "  if to_regclass('auth.users') is not null",
      "     and exists (select from auth.users u where u.id = p_user_id and u.raw_app_meta_data ->> 'role' = 'admin') then",
      '    return true;',
      '  end if;',
      `  return ${adminSql};`,
      'end',
    ].join('\n');
    parts.push(
      `create or replace function dispatch.is_admin(p_user_id uuid) returns boolean\nlanguage plpgsql stable security definer set search_path = '' as ${dollar(admin)};\n${functionPrivileges('dispatch.is_admin(uuid)')}`,
    );
  }
  // Nothing to drop: the core's defaults come back with the next core install.
  return { key: 'audiences', install: parts.join('\n\n'), drop: '' };
}
