/**
 * Healthy traffic must not page anyone: runs the whole product (`npm start`: stack, the three
 * processors, the lag monitor, the dashboard, the demo producer) at the demo rate and then at
 * 5,000 events/s, each for BENCH_QUIET_MINUTES (5), and counts the lag alerts the monitor
 * delivered (every one is logged by the monitor as it goes out). Expected: none.
 *
 *   npm run bench:lag-quiet        (stop `npm start` first; about 12 minutes)
 *
 * Environment: BENCH_QUIET_MINUTES (5), BENCH_QUIET_RATES (200,5000).
 * Writes bench/results/lag-quiet.json. The complementary case (every consumer stopped: one STOP
 * within two sample intervals, one recovery) is test/integration/lag-monitor.test.ts.
 */
import { spawn } from 'node:child_process';
import { describeMachine, writeResults } from './machine.js';

const MINUTES = Number(process.env.BENCH_QUIET_MINUTES ?? 5);
const RATES = (process.env.BENCH_QUIET_RATES ?? '200,5000').split(',').map(Number);
const log = (msg: string) => console.log(`[lag-quiet] ${msg}`);

interface RunResult {
  rate: number;
  minutes: number;
  demoEventsProduced: number;
  lagAlerts: { kind: string; group: string; message: string }[];
  processorP99Ms: number[];
  exitCode: number | null;
}

async function runAt(rate: number): Promise<RunResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/main.ts'], {
    env: { ...process.env, DEMO_RATE: String(rate) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const result: RunResult = {
    rate,
    minutes: MINUTES,
    demoEventsProduced: 0,
    lagAlerts: [],
    processorP99Ms: [],
    exitCode: null,
  };
  // processors log to stdout; the demo producer is a CLI command, which logs to stderr
  const onLine = (line: string) => {
    if (!line.startsWith('{')) {
      if (line.trim()) process.stderr.write(`${line}\n`);
      return;
    }
    const entry = JSON.parse(line) as Record<string, unknown>;
    const alert = entry.alert as { kind: string; group: string } | undefined;
    if (entry.component === 'lag-monitor' && alert) {
      result.lagAlerts.push({ kind: alert.kind, group: alert.group, message: String(entry.msg) });
      log(`lag alert: ${String(entry.msg)}`);
    }
    if (entry.component === 'demo-producer' && typeof entry.total === 'number') {
      result.demoEventsProduced = entry.total;
    }
    if (entry.msg === 'processing summary' && typeof entry.p99Ms === 'number') {
      result.processorP99Ms.push(entry.p99Ms);
    }
  };
  for (const stream of [child.stdout, child.stderr]) {
    let buffered = '';
    stream.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) onLine(line);
    });
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  await new Promise((r) => setTimeout(r, MINUTES * 60_000));
  child.kill('SIGINT');
  result.exitCode = await exited;
  log(
    `${rate}/s for ${MINUTES} min: ${result.demoEventsProduced} demo events, ${result.lagAlerts.length} lag alerts, exit ${result.exitCode}`,
  );
  return result;
}

async function main() {
  const runs: RunResult[] = [];
  for (const rate of RATES) runs.push(await runAt(rate));
  const file = writeResults('lag-quiet', {
    benchmark: 'lag-quiet',
    at: new Date().toISOString(),
    machine: describeMachine(),
    expectation: 'no lag alert during healthy traffic',
    runs,
    lagAlertsTotal: runs.reduce((n, r) => n + r.lagAlerts.length, 0),
  });
  log(`results: ${file}`);
  process.exit(runs.every((r) => r.lagAlerts.length === 0 && r.exitCode === 0) ? 0 : 1);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
