/**
 * CPU time of process trees, from /proc (Linux): where a bench's time goes when the machine, not
 * the waiting, is the limit. A snapshot sums utime + stime + cutime + cstime of a root process and
 * its live descendants: a child that exits (a Postgres backend whose client disconnected) moves
 * into its parent's cutime/cstime once reaped, so the difference of two snapshots still counts it.
 * Elsewhere every figure is NaN.
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICK_MS = 10; // USER_HZ is 100 on Linux

interface Stat {
  ppid: number;
  cpuMs: number;
}

function stat(pid: number): Stat | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command may hold spaces and parentheses: the fields start after the last ')'
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // utime stime cutime cstime: fields 14-17 of proc(5), 11-14 here
    const ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    return { ppid: Number(fields[1]), cpuMs: ticks * TICK_MS };
  } catch {
    return null;
  }
}

/** ms of CPU used so far by `root` and its live descendants, per root. */
export function cpuSnapshot(roots: Record<string, number>): Record<string, number> {
  const stats = new Map<number, Stat>();
  let pids: number[] = [];
  try {
    pids = readdirSync('/proc')
      .filter((name) => /^\d+$/.test(name))
      .map(Number);
  } catch {
    return Object.fromEntries(Object.keys(roots).map((name) => [name, Number.NaN]));
  }
  for (const pid of pids) {
    const s = stat(pid);
    if (s) stats.set(pid, s);
  }
  const result: Record<string, number> = {};
  for (const [name, root] of Object.entries(roots)) {
    let total = 0;
    for (const [pid, s] of stats) {
      let p: number | undefined = pid;
      // is `root` an ancestor of pid (or pid itself)?
      for (let depth = 0; p && p > 1 && depth < 16; depth++) {
        if (p === root) {
          total += s.cpuMs;
          break;
        }
        p = stats.get(p)?.ppid;
      }
    }
    result[name] = stats.has(root) ? total : Number.NaN;
  }
  return result;
}

/** The postmaster's pid: the parent of this connection's backend. */
export function parentPid(pid: number): number {
  return stat(pid)?.ppid ?? 0;
}
