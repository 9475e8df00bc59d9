/**
 * Are the core's policies on realtime.messages there? The read policy lets users receive their
 * topics; the three guards keep every other policy of the project from opening dispatch:* topics or
 * letting clients send on them. All four are needed.
 */
import type { DoctorCheck } from './check.ts';

/**
 * The policies `dispatch.install_realtime_policies()` creates (sql/core/030_realtime.sql): the SQL
 * core makes them, not the generator (sdk/test/doctor.test.ts holds this list to the core's SQL).
 */
export const REALTIME_POLICIES = [
  'dispatch_read',
  'dispatch_read_guard',
  'dispatch_read_guard_public',
  'dispatch_send_guard',
];

export const realtimePoliciesCheck: DoctorCheck = async (query) => {
  const found = (
    await query(
      `select policyname from pg_policies where schemaname = 'realtime' and tablename = 'messages' and policyname like 'dispatch%'`,
    )
  ).map((r) => String(r.policyname));
  const missing = REALTIME_POLICIES.filter((name) => !found.includes(name));
  return [
    {
      name: 'Realtime policies on realtime.messages',
      ok: missing.length === 0,
      detail: found.length
        ? `found ${found.join(', ')}${missing.length ? `; missing ${missing.join(', ')}` : ''}`
        : 'none',
      fix: 'as the owner of realtime.messages: select dispatch.install_realtime_policies();',
    },
  ];
};
