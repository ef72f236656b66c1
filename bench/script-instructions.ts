/**
 * The stock scripts of this checkout against those of another one (the previous release), in
 * instructions: each side's Redis runs under valgrind's callgrind, which counts the instructions
 * of command processing while the workload is applied (processCommand: the scripts, the commands
 * they call, the AOF's encoding; not the event loop, the network, the kernel's write and fsync,
 * nor the server's timers, whose share grows with the run's wall time). A count does not
 * depend on how fast the host is at the time, so a difference of a few per cent between
 * releases, lost in the scatter of CPU-time benchmarks on a shared host, shows plainly; and it
 * says which functions of the server the difference is spent in.
 *
 *   git worktree add /tmp/base <previous release> && (cd /tmp/base && npm ci)
 *   BENCH_BASE=/tmp/base node --import tsx bench/script-instructions.ts
 *
 * Same workload, chunks and Redis settings as bench/script-ab.ts (script-sides.ts), one side after
 * the other (the counts do not depend on timing). Counting starts once the catalogue and opening
 * stock are loaded and stops after the last acknowledgement. Needs valgrind (Debian: valgrind);
 * under it Redis runs some fifty times slower, hence fewer events by default.
 * Writes bench/results/script-instructions.json.
 *
 * Without BENCH_BASE it counts this checkout alone (trying a change: the count of one side is
 * steady from run to run) and writes no results file.
 *
 * Environment: BENCH_BASE, BENCH_EVENTS (30000 generated after the warm-up's, about 25,000 of
 * them valid and counted), BENCH_WARMUP_EVENTS (50000, applied first), BENCH_SKUS (5000),
 * BENCH_EVENT_RATE (5000: event times spread as at that rate; 0: all now), BENCH_CHUNK, BENCH_PARTITIONS, BENCH_AOF=no (as script-ab.ts), BENCH_CACHE_SIM=1 (callgrind
 * also simulates caches and branch prediction: its output file holds the misses; about twice as
 * slow), BENCH_KEEP=1 (leaves callgrind's output files in /tmp for callgrind_annotate),
 * BENCH_COLLECT=all (counts the whole server, not processCommand alone: reading requests,
 * writing replies and the AOF, timers; about 1 % more per event).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeMachine, writeResults, runMain } from './machine.js';
import { aofSize, CHUNK, openSide, PARTITIONS, step } from './script-sides.js';
import { SKUS } from './workload.js';

const BASE = process.env.BENCH_BASE;
const EVENTS = Number(process.env.BENCH_EVENTS ?? 30_000);
/**
 * Applied before counting starts: a SKU's first sale brings its first replenishment suggestion,
 * which a longer run (and a running shop) meets once per SKU, not on a fifth of all events.
 */
const WARMUP_EVENTS = Number(process.env.BENCH_WARMUP_EVENTS ?? 50_000);
/**
 * Event times as a stream at this rate would have them: a SKU's velocities decay between its
 * events as they do in a running shop (with every event at one instant they never would).
 */
const EVENT_RATE = Number(process.env.BENCH_EVENT_RATE ?? 5_000);
/** functions listed per side: enough to see where a difference lies */
const TOP_FUNCTIONS = 25;

interface Count {
  events: number;
  calls: number;
  instructionsPerEvent: number;
  aofBytesPerEvent: number;
  /** callgrind_annotate's lines: instructions, share, function */
  functions: { instructionsPerEvent: number; fn: string }[];
}

function callgrindControl(option: string, pid: number): void {
  execFileSync('callgrind_control', [option, String(pid)], { stdio: 'ignore' });
}

async function count(name: string, dir: string, port: number): Promise<Count> {
  const outFile = join('/tmp', `script-instructions-${port}-${process.pid}.out`);
  const side = await openSide(
    name,
    dir,
    port,
    WARMUP_EVENTS + EVENTS,
    [
      'valgrind',
      '--tool=callgrind',
      '--instr-atstart=no',
      `--callgrind-out-file=${outFile}`,
      ...(process.env.BENCH_COLLECT === 'all' ? [] : ['--toggle-collect=processCommand']),
      ...(process.env.BENCH_CACHE_SIM === '1' ? ['--cache-sim=yes', '--branch-sim=yes'] : []),
    ],
    EVENT_RATE,
  );
  try {
    const pid = side.server.pid;
    if (!pid) throw new Error(`${name}: Redis is not running`);
    const applied = () => side.offsets.reduce((sum, n) => sum + n, 0);
    while (applied() < WARMUP_EVENTS && (await step(side)));
    const warm = applied();
    const aof0 = await aofSize(side.redis);
    callgrindControl('--instr=on', pid);
    let calls = 0;
    while (await step(side)) calls += 1;
    callgrindControl('--instr=off', pid);
    const events = applied() - warm;
    if (events === 0) throw new Error(`${name}: the warm-up took every event; raise BENCH_EVENTS`);
    const aofBytesPerEvent = Math.round(((await aofSize(side.redis)) - aof0) / events);
    side.redis.disconnect();
    // callgrind writes its counts as the server exits
    await side.server.stop('SIGTERM');
    // with instrumentation toggled, the header's summary is 0 and the counts are in the totals
    const total = Number(/^totals: (\d+)/m.exec(readFileSync(outFile, 'utf8'))?.[1]);
    if (!total) throw new Error(`${name}: no instruction count in ${outFile}`);
    const annotated = execFileSync('callgrind_annotate', ['--threshold=100', outFile], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    const functions = [];
    for (const line of annotated.split('\n')) {
      const m = /^\s*([\d,]+)\s+\([\s\d.]+%\)\s+(.+)$/.exec(line);
      if (!m || /PROGRAM TOTALS/.test(line)) continue;
      functions.push({
        instructionsPerEvent: Math.round(Number((m[1] as string).replaceAll(',', '')) / events),
        fn: (m[2] as string).replace(/\s*\[[^\]]*\]$/, ''),
      });
      if (functions.length === TOP_FUNCTIONS) break;
    }
    return {
      events,
      calls,
      instructionsPerEvent: Math.round(total / events),
      aofBytesPerEvent,
      functions,
    };
  } finally {
    side.redis.disconnect();
    await side.server.remove();
    if (!process.env.BENCH_KEEP) execFileSync('rm', ['-f', outFile]);
  }
}

async function main() {
  const mine = await count('this', process.cwd(), 26404);
  if (!BASE) {
    console.log(
      `this checkout: ${mine.instructionsPerEvent.toLocaleString('en')} instructions/event  AOF ${mine.aofBytesPerEvent} B/event (${mine.events} events)`,
    );
    for (const f of mine.functions) console.log(`  ${String(f.instructionsPerEvent).padStart(8)}  ${f.fn}`);
    return;
  }
  const base = await count('base', BASE, 26403);
  const ratio = Math.round((mine.instructionsPerEvent / base.instructionsPerEvent) * 1000) / 1000;
  console.log(`${base.events} events each in ${base.calls} calls of ${PARTITIONS} chunks of up to ${CHUNK}`);
  for (const [label, c] of [
    [`base (${BASE})`, base],
    ['this checkout', mine],
  ] as const)
    console.log(
      `${label.padEnd(40)} ${c.instructionsPerEvent.toLocaleString('en')} instructions/event  AOF ${c.aofBytesPerEvent} B/event`,
    );
  console.log(`this / base: instructions per event ${ratio}x`);
  // where the difference lies: each function's instructions per event on both sides
  const byFn = new Map<string, [number, number]>();
  for (const f of base.functions) byFn.set(f.fn, [f.instructionsPerEvent, 0]);
  for (const f of mine.functions) byFn.set(f.fn, [byFn.get(f.fn)?.[0] ?? 0, f.instructionsPerEvent]);
  console.log('instructions per event by function (base, this, difference):');
  for (const [fn, [b, m]] of [...byFn].sort(
    (x, y) => Math.abs(y[1][1] - y[1][0]) - Math.abs(x[1][1] - x[1][0]),
  ))
    console.log(`  ${String(b).padStart(8)} ${String(m).padStart(8)} ${String(m - b).padStart(8)}  ${fn}`);
  const file = writeResults('script-instructions', {
    at: new Date().toISOString(),
    command: 'BENCH_BASE=<checkout> node --import tsx bench/script-instructions.ts',
    settings: {
      events: base.events,
      warmupEvents: WARMUP_EVENTS,
      eventsPerSecond: EVENT_RATE,
      skus: SKUS,
      chunk: CHUNK,
      partitions: PARTITIONS,
    },
    base: { dir: BASE, ...base },
    this: mine,
    ratio,
    machine: describeMachine(),
  });
  console.log(`results: ${file}`);
}

runMain(main);
