/**
 * The issue benchmark's steady-rate latency (bench/stock-processor.ts) of this checkout against
 * another one (the previous release), whole runs in turn, the order swapped every pair. A single
 * run's p99 at a steady rate swings by an order of magnitude on a shared host (it measures
 * whether the processor kept up, second by second, beside the load and a second consumer on two
 * cores); only medians over runs taken in turn compare the code.
 *
 *   git worktree add /tmp/base <previous release> && (cd /tmp/base && npm ci)
 *   npm run stack -- up && BENCH_BASE=/tmp/base node --import tsx bench/latency-ab.ts
 *
 * Each run is the checkout's own bench/stock-processor.ts on the running stack, with the phases
 * that do not bear on latency cut short (naive baseline, order/logistics traffic, memory: their
 * figures are left out here); its results file is restored afterwards. Prints per rate each
 * side's median p99 and p50, the ratio of medians and the spread of the per-pair ratios; writes
 * bench/results/latency-ab.json.
 *
 * Environment: BENCH_BASE (required), BENCH_PAIRS (4); BENCH_EVENTS, BENCH_RATES and
 * BENCH_STEADY_SECONDS pass through to both sides.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describeMachine, writeResults, runMain } from './machine.js';
import { median, round2 } from './stats.js';

const BASE = process.env.BENCH_BASE;
const PAIRS = Number(process.env.BENCH_PAIRS ?? 4);
/** phases the latency comparison does not read, made short */
const SHORTENED = {
  BENCH_NAIVE_EVENTS: '3000',
  BENCH_ORDER_LOGISTICS_EVENTS: '5000',
  BENCH_MEMORY_SKUS: '20000',
};

interface RateFigures {
  targetRate: number;
  achievedRate: number;
  p50Ms: number;
  p99Ms: number;
  p99VsDoNothing: number | null;
}
interface RunFigures {
  side: string;
  startedAt: string;
  eventsPerSecond: number;
  ratioVsDecodeAndForward: number;
  cpuMicrosPerEvent: number;
  byRate: RateFigures[];
}

async function runOnce(side: string, dir: string): Promise<RunFigures> {
  const startedAt = new Date().toISOString();
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/stock-processor.ts'], {
    cwd: dir,
    env: { ...SHORTENED, ...process.env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  child.stdout.on('data', (d: Buffer) => {
    for (const line of d.toString().split('\n'))
      if (line.includes('latency at') || line.includes('stock processor:'))
        console.log(`  ${side}: ${line.replace('[bench] ', '')}`);
  });
  const code: unknown = await new Promise((r) => child.once('close', r));
  if (code !== 0) throw new Error(`${side}: bench/stock-processor.ts failed (${code})`);
  const r = JSON.parse(readFileSync(join(dir, 'bench/results/stock-processor.json'), 'utf8')) as {
    throughput: {
      stockProcessorEventsPerSecond: number;
      ratioVsDecodeAndForward: number;
      cpuMicrosPerEvent: { stockProcessorTotal: number };
    };
    latency: { byRate: RateFigures[] };
  };
  return {
    side,
    startedAt,
    eventsPerSecond: r.throughput.stockProcessorEventsPerSecond,
    ratioVsDecodeAndForward: r.throughput.ratioVsDecodeAndForward,
    cpuMicrosPerEvent: r.throughput.cpuMicrosPerEvent.stockProcessorTotal,
    byRate: r.latency.byRate.map(({ targetRate, achievedRate, p50Ms, p99Ms, p99VsDoNothing }) => ({
      targetRate,
      achievedRate,
      p50Ms,
      p99Ms,
      p99VsDoNothing,
    })),
  };
}

async function main() {
  if (!BASE) throw new Error('BENCH_BASE: the path of the checkout to compare with (see the header)');
  const sides = [
    { name: 'base', dir: resolve(BASE) },
    { name: 'this', dir: process.cwd() },
  ];
  // each run overwrites its checkout's results file: put the committed ones back afterwards
  const kept = sides.map((s) => {
    const file = join(s.dir, 'bench/results/stock-processor.json');
    try {
      return { file, text: readFileSync(file, 'utf8') };
    } catch {
      return { file, text: null };
    }
  });
  const runs: RunFigures[] = [];
  try {
    for (let pair = 0; pair < PAIRS; pair++) {
      for (const side of pair % 2 ? [...sides].reverse() : sides) {
        console.log(`pair ${pair + 1}/${PAIRS}: ${side.name}`);
        runs.push(await runOnce(side.name, side.dir));
      }
    }
  } finally {
    for (const k of kept) if (k.text !== null) writeFileSync(k.file, k.text);
  }

  const of = (side: string) => runs.filter((r) => r.side === side);
  const [base, mine] = [of('base'), of('this')];
  const rates = (base[0]?.byRate ?? []).map((r) => r.targetRate);
  const byRate = rates.map((rate, i) => {
    const at = (rs: RunFigures[]) => rs.map((r) => r.byRate[i] as RateFigures);
    const b = at(base);
    const m = at(mine);
    const perPair = m.map((x, j) => round2(x.p99Ms / Math.max(1, (b[j] as RateFigures).p99Ms)));
    const ratioVsNoop = (xs: RateFigures[]) =>
      xs.flatMap((x) => (x.p99VsDoNothing === null ? [] : [x.p99VsDoNothing]));
    return {
      targetRate: rate,
      base: {
        medianP99Ms: median(b.map((x) => x.p99Ms)),
        medianP50Ms: median(b.map((x) => x.p50Ms)),
        medianP99VsDoNothing: ratioVsNoop(b).length ? median(ratioVsNoop(b)) : null,
        p99Ms: b.map((x) => x.p99Ms),
      },
      this: {
        medianP99Ms: median(m.map((x) => x.p99Ms)),
        medianP50Ms: median(m.map((x) => x.p50Ms)),
        medianP99VsDoNothing: ratioVsNoop(m).length ? median(ratioVsNoop(m)) : null,
        p99Ms: m.map((x) => x.p99Ms),
      },
      p99RatioOfMedians: round2(median(m.map((x) => x.p99Ms)) / Math.max(1, median(b.map((x) => x.p99Ms)))),
      p99RatioPerPair: perPair,
      pairsThisBetter: perPair.filter((x) => x < 1).length,
    };
  });
  const throughput = {
    base: median(base.map((r) => r.eventsPerSecond)),
    this: median(mine.map((r) => r.eventsPerSecond)),
    ratioOfMedians: round2(
      median(mine.map((r) => r.eventsPerSecond)) / median(base.map((r) => r.eventsPerSecond)),
    ),
  };
  console.log(`\n${PAIRS} pairs, in turn; this checkout / base (${BASE})`);
  console.log(
    `throughput: median ${throughput.this} vs ${throughput.base} events/s = ${throughput.ratioOfMedians}x`,
  );
  for (const r of byRate)
    console.log(
      `${String(r.targetRate).padStart(6)}/s: median p99 ${r.this.medianP99Ms} vs ${r.base.medianP99Ms} ms = ` +
        `${r.p99RatioOfMedians}x (per pair ${r.p99RatioPerPair.join(' ')}; this lower in ${r.pairsThisBetter}/${PAIRS}); ` +
        `median p50 ${r.this.medianP50Ms} vs ${r.base.medianP50Ms} ms`,
    );
  const file = writeResults('latency-ab', {
    at: new Date().toISOString(),
    command: 'BENCH_BASE=<checkout> node --import tsx bench/latency-ab.ts',
    settings: { pairs: PAIRS, shortened: SHORTENED, base: BASE },
    throughput,
    byRate,
    runs,
    machine: describeMachine(),
  });
  console.log(`results: ${file}`);
}

runMain(main);
