/** Types of system-packages.mjs (plain JavaScript, so that scripts/bootstrap.mjs can import it). */
export interface SystemPackage {
  /** The Debian package. */
  name: string;
  /** What it gives the stack, in a few words. */
  gives: string;
  /** A file the package installs: absent means the package is missing. */
  proof: string;
}

export const DEFAULT_PG_BIN: string;
export const DEFAULT_PG_SHARE: string;
export function pgBinDir(env?: NodeJS.ProcessEnv): string;
export function pgShareDir(env?: NodeJS.ProcessEnv): string;
export function systemPackages(env?: NodeJS.ProcessEnv): SystemPackage[];
export function missingSystemPackages(
  env?: NodeJS.ProcessEnv,
  exists?: (path: string) => boolean,
): SystemPackage[];
/** `root` (default: whether this process is root) leaves out sudo. */
export function installCommand(packages: SystemPackage[], root?: boolean): string;
export function missingSystemPackagesMessage(packages: SystemPackage[], root?: boolean): string;
