/**
 * The measures `npm run bench` runs, in this order. Each script keeps the contract in
 * bench/support/report.ts (`--quick`, `--json <path>`, a MeasureReport). To add one, append a line:
 * the runner fails before measuring anything if a listed script is missing.
 */
export interface Measure {
  /** File stem of its results (bench/results/<name>.json / .csv / -<plot>.png). */
  name: string;
  /** The script, relative to bench/. */
  script: string;
  /** Extra arguments for the full run. */
  args?: string[];
  /** Minutes the full run may take before the runner stops it (the quick run gets 5). */
  minutes: number;
}

export const measures: Measure[] = [
  { name: 'capture-throughput', script: 'pgbench/capture.ts', minutes: 20 },
  { name: 'realtime-latency', script: 'realtime-latency.ts', minutes: 5 },
  { name: 'delivery-latency', script: 'delivery-latency.ts', minutes: 10 },
  { name: 'client-latency', script: 'client-latency.ts', minutes: 40 },
  { name: 'realtime-soak', script: 'realtime-soak.ts', minutes: 15 },
  { name: 'drain-cpu', script: 'drain-cpu.ts', minutes: 15 },
  { name: 'drain-sustained', script: 'drain-sustained.ts', minutes: 20 },
  { name: 'drain-history', script: 'drain-history.ts', minutes: 15 },
  { name: 'drain-horizon', script: 'drain-horizon.ts', minutes: 10 },
  { name: 'drain-pacing', script: 'drain-pacing.ts', minutes: 10 },
  { name: 'drain-floor', script: 'drain-floor.ts', minutes: 10 },
  { name: 'fanout', script: 'fanout.ts', minutes: 30 },
  { name: 'global-counter', script: 'global-counter.ts', minutes: 15 },
  { name: 'worker-throughput', script: 'worker-throughput.ts', args: ['--rounds', '5'], minutes: 30 },
  { name: 'worker-sql-cost', script: 'worker-sql-cost.ts', minutes: 15 },
  { name: 'worker-rss', script: 'worker-rss.ts', minutes: 15 },
];
