/**
 * Ports for the listeners that tests start in the middle of a run: a second stack (`local start`
 * from the CLI, a fresh project), the chaos suite's sinks and crash-storm cluster, the demo server.
 *
 * They lie above Linux's ephemeral range (net.ipv4.ip_local_port_range, 32768–60999 by default).
 * By the middle of a run the test stack's services hold hundreds of client connections, and any of
 * them may have been given a port of that range as its local port: two CI runs failed because a
 * stack starting mid-run found its port (54522, later 54624) "already in use" with nothing
 * listening there. The test stack itself starts first, before those connections exist, and keeps
 * its 544xx ports.
 *
 * Each user owns a slot below; the range follows the test stack's API port so that runs on other
 * bases (SUPADISPATCH_API_PORT=54521, 54621, …: one per helper checkout) get ranges of their own.
 */
export const midRunSlots = {
  /** local/test/control/local-cli.test.ts: API, DB, MAIL, SMTP, WEBHOOK_SINK at +0, +1, +3, +4, +5. */
  localCli: 0,
  /** e2e/install/fresh-project.test.ts: the same five at +0, +1, +3, +4, +5. */
  freshProject: 10,
  /** e2e/demo/marketplace.browser.test.ts: the demo's web server. */
  demoServer: 20,
  /** e2e/chaos/crash-storm.test.ts: its own PostgreSQL cluster. */
  crashStormDb: 21,
  /** e2e/chaos/support/chaos-stack.ts: sinks at +1…+9 (each test's `sinkPortOffset`). */
  chaosSinks: 30,
} as const;

const FIRST = 61_100;
/** Ports a run may use from its FIRST: slots stay below 100, bases differ by 100. */
const SPAN = 4_000;

/** The port of `slot + offset` for this run's base (the test stack's API port). */
export function midRunPort(slot: number, offset = 0): number {
  const api = Number(process.env.SUPADISPATCH_API_PORT ?? 54_421);
  const shift = (((api - 54_421) % SPAN) + SPAN) % SPAN;
  const port = FIRST + shift + slot + offset;
  if (slot + offset >= 100 || port > 65_535) {
    throw new Error(
      `midRunPort(${slot}, ${offset}): ${port} is outside this run's range of 100 from ${FIRST + shift}`,
    );
  }
  return port;
}

/** The five ports of a second local stack at `slot`, as SUPADISPATCH_<NAME>_PORT names them. */
export function midRunStackPorts(slot: number) {
  return {
    API: midRunPort(slot, 0),
    DB: midRunPort(slot, 1),
    MAIL: midRunPort(slot, 3),
    SMTP: midRunPort(slot, 4),
    WEBHOOK_SINK: midRunPort(slot, 5),
  };
}
