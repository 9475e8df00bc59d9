/** Is the SQL core installed, and is it the version this supadispatch embeds? */
import { type Check, type DoctorCheck, firstRow, GEN_AND_PUSH, type Query } from './check.ts';

/** Reported alone: without the core no other check means anything. */
export const coreMissing: Check = {
  name: 'core installed',
  ok: false,
  detail: 'schema dispatch / dispatch.version() not found',
  fix: GEN_AND_PUSH,
};

export async function coreInstalled(query: Query): Promise<boolean> {
  const { installed } = await firstRow(
    query,
    `select to_regprocedure('dispatch.version()') is not null as installed`,
  );
  return Boolean(installed);
}

export const coreVersionCheck: DoctorCheck = async (query, _config, { expectedVersion }) => {
  const { version } = await firstRow(query, 'select dispatch.version() as version');
  return [
    {
      name: `core version ${expectedVersion}`,
      ok: version === expectedVersion,
      detail: `installed ${version}`,
      fix:
        version === expectedVersion
          ? undefined
          : 'run `npx supadispatch gen` (embeds the new core) then `supabase db push`',
    },
  ];
};
