/**
 * This checkout's stock processor and another checkout's (the previous release), both running at
 * the same time on the same host, each reading its own copy of one stream. Runs in turn
 * (bench/latency-ab.ts) meet the host in different moods: on two shared cores a single run's p99
 * swings by an order of magnitude with whatever else ran in that second. Here every event reaches
 * both releases in the same produce request with the same timestamp, so a stall of the broker or
 * of the host lands on both, and the ratio of two figures of one phase compares the code under
 * the same conditions.
 *
 *   git worktree add /tmp/base <previous release> && (cd /tmp/base && npm ci)
 *   npm run stack -- up && BENCH_BASE=/tmp/base BENCH_OWN_REDIS=1 node --import tsx bench/latency-side-by-side.ts
 *
 * Each release runs in a process of its own (bench/side-processor.ts, loading the processor from
 * its checkout) with its own topics, consumer group and Redis key tag, on the same broker; with
 * BENCH_OWN_REDIS=1 each on a Redis of its own (AOF, fsync per write), else both on the stack's.
 * After a warm-up burst and a pause (the drainers finish the burst's work), each round runs a
 * phase per rate (the load producer writes `rate` events per second to each release for
 * BENCH_STEADY_SECONDS, then both report the phase's latencies) and a burst (BENCH_BURST_EVENTS
 * to both as fast as they go: how many events each applied while both were running, and the CPU
 * per event of each processor and, on Redis of their own, of each Redis). Every phase is a stream
 * of its own (a seed per phase): replayed events would only meet the duplicate check. Two
 * releases share the host, so each rate here loads it like twice that rate in the single-release
 * benchmark.
 *
 * The statistic: the geometric mean of the per-phase ratios this/base with a 90 % bootstrap
 * interval; "within 15 %" when the interval's upper end is at most 1.15.
 * Writes bench/results/latency-side-by-side.json.
 *
 * Environment: BENCH_BASE (required), BENCH_ROUNDS (8), BENCH_RATES (2500,5000,10000 per release;
 * empty: bursts only), BENCH_STEADY_SECONDS (20), BENCH_BURST_EVENTS (50000; 0: none),
 * BENCH_WARMUP_EVENTS (100000), BENCH_OWN_REDIS, BENCH_SKUS (5000).
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import type { Kafka } from 'kafkajs';
import { loadCommonConfig } from '../runtime/config.js';
import { createKafka } from '../runtime/kafka.js';
import { createLogger } from '../runtime/logger.js';
import type { AvroCodec } from '../schemas/codec.js';
import { PrivateRedis } from '../scripts/private-redis.js';
import { deleteRunKeys } from './bench-kit.js';
import { addCommandStats, commandStats, sampleCpu } from './cpu-meter.js';
import { describeMachine, writeResults, runMain } from './machine.js';
import { bootstrapGeometricMean, geometricMean, median, round2 } from './stats.js';
import { SKUS } from './workload.js';

const env = (name: string, dflt: number) => Number(process.env[name] ?? dflt);
const BASE = process.env.BENCH_BASE;
const ROUNDS = env('BENCH_ROUNDS', 8);
const RATES = (process.env.BENCH_RATES ?? '2500,5000,10000').split(',').filter(Boolean).map(Number);
const BURST_EVENTS = env('BENCH_BURST_EVENTS', 50_000);
/** each release on a Redis of its own (same durability): their Redis CPU measured apart */
const OWN_REDIS = process.env.BENCH_OWN_REDIS === '1';
const STEADY_SECONDS = env('BENCH_STEADY_SECONDS', 20);
const WARMUP_EVENTS = env('BENCH_WARMUP_EVENTS', 100_000);
/** after the warm-up burst: the changelog drainer and sweeps finish what the burst left */
const SETTLE_MS = 10_000;
const BETWEEN_PHASES_MS = 3_000;
const OWN_REDIS_PORT = 26_461;

const common = loadCommonConfig();
const run = Date.now().toString(36);
const log = (msg: string) => console.log(`[side-by-side] ${msg}`);

interface PhaseFigures {
  events: number;
  cpuMicros: number;
  progress: [number, number][];
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  maxMsBySecond: number[];
  slowestBatches: unknown[];
}

class Side {
  readonly prefix: string;
  readonly keyTag: string;
  private child?: ChildProcess;
  private ownRedis?: PrivateRedis;
  private redisUrl = common.REDIS_URL;
  private waiting?: { answer: (message: Record<string, unknown>) => void; fail: (err: Error) => void };
  constructor(
    readonly name: string,
    readonly dir: string,
  ) {
    this.prefix = `sbs-${run}-${name}-`;
    this.keyTag = `sbs-${run}-${name}`;
  }

  /** topics, schemas, catalogue and opening stock, each by the checkout's own bench code */
  async prepare(kafka: Kafka, index: number): Promise<void> {
    if (OWN_REDIS) {
      this.ownRedis = await PrivateRedis.start(OWN_REDIS_PORT + index);
      this.redisUrl = `redis://127.0.0.1:${this.ownRedis.port}`;
    }
    const from = async <T>(path: string) => (await import(pathToFileURL(resolve(this.dir, path)).href)) as T;
    const kit = await from<{
      setupTopics: (k: Kafka, url: string, p: string) => Promise<void>;
      seedCatalogueAndStock: (k: Kafka, codec: AvroCodec, p: string) => Promise<void>;
    }>('bench/bench-kit.ts');
    const { AvroCodec: Codec } = await from<{ AvroCodec: typeof AvroCodec }>('schemas/codec.ts');
    await kit.setupTopics(kafka, common.SCHEMA_REGISTRY_URL, this.prefix);
    await kit.seedCatalogueAndStock(
      kafka,
      Codec.connect(common.SCHEMA_REGISTRY_URL, this.prefix),
      this.prefix,
    );
  }

  async start(): Promise<void> {
    this.child = fork(resolve('bench/side-processor.ts'), [this.dir, this.prefix, this.keyTag], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, REDIS_URL: this.redisUrl },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (m) => this.waiting?.answer(m as Record<string, unknown>));
    this.child.once('exit', (code) =>
      this.waiting?.fail(new Error(`${this.name}: side processor exited (${code})`)),
    );
    await this.ask({});
  }

  /** sends a command (none: waits for the next message) and resolves with the answer */
  ask(command: Record<string, unknown>): Promise<Record<string, unknown>> {
    return new Promise((answer, fail) => {
      this.waiting = {
        answer: (m) => {
          this.waiting = undefined;
          answer(m);
        },
        fail,
      };
      if ('cmd' in command) this.child?.send(command);
    });
  }

  async events(): Promise<number> {
    return (await this.ask({ cmd: 'events' })).events as number;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.send({ cmd: 'stop' });
    await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
    await this.ownRedis?.remove();
  }

  /** its own Redis' commandstats (empty on the shared one: not this release's alone) */
  async commandStats(): Promise<Map<string, { calls: number; usec: number }>> {
    if (!this.ownRedis) return new Map();
    const client = new Redis(this.redisUrl);
    try {
      return await commandStats(client);
    } finally {
      client.disconnect();
    }
  }

  /** what its own Redis did besides commands: AOF rewrites and forks, memory, user/system CPU */
  async redisState(): Promise<Record<string, number>> {
    if (!this.ownRedis) return {};
    const client = new Redis(this.redisUrl);
    try {
      const info = await client.info();
      const fields = [
        'aof_rewrites',
        'total_forks',
        'used_memory',
        'aof_current_size',
        'used_cpu_sys',
        'used_cpu_user',
        'used_cpu_sys_children',
        'used_cpu_user_children',
      ];
      return Object.fromEntries(
        fields.map((f) => [f, Number(new RegExp(`^${f}:([\\d.]+)`, 'm').exec(info)?.[1] ?? Number.NaN)]),
      );
    } finally {
      client.disconnect();
    }
  }

  /** seconds of CPU its own Redis has used (NaN on the shared one: not this release's alone) */
  async redisCpuSeconds(): Promise<number> {
    if (!this.ownRedis) return Number.NaN;
    const client = new Redis(this.redisUrl);
    try {
      return (await sampleCpu(client)).redis;
    } finally {
      client.disconnect();
    }
  }
}

let seed = 100;
/** every phase a stream of its own: a replayed one would be skipped as duplicates */
async function load(sides: Side[], events: number, rate: number): Promise<number> {
  const targets = sides.map((s) => `${s.prefix}=${s.dir}`).join(',');
  const started = Date.now();
  const loader = spawn(
    process.execPath,
    ['--import', 'tsx', 'bench/load-producer.ts', targets, String(events), String(rate), String(seed++)],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const code: unknown = await new Promise((r) => loader.once('exit', r));
  if (code !== 0) throw new Error(`load producer failed (${code})`);
  return Math.round(events / ((Date.now() - started) / 1000));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const withoutProgress = ({ progress: _progress, ...figures }: PhaseFigures) => figures;

/** events applied by `t` (wall clock), from a side's per-chunk progress */
function appliedBy(progress: [number, number][], t: number): number {
  let applied = 0;
  for (const [at, events] of progress) if (at <= t) applied = events;
  return applied;
}

/**
 * One burst, both releases fed as fast as they go: each one's rate over its own span, and how
 * many events each applied while both were running (from when the later one started to when the
 * earlier one finished). The second is the fairer comparison: once one release is done the other
 * has the host to itself.
 */
function compareBurst(mine: PhaseFigures, base: PhaseFigures) {
  const span = (p: [number, number][]) => ({ first: p[0]?.[0] ?? 0, last: p[p.length - 1]?.[0] ?? 0 });
  const [m, b] = [span(mine.progress), span(base.progress)];
  const from = Math.max(m.first, b.first);
  const to = Math.min(m.last, b.last);
  const inWindow = (p: [number, number][]) => appliedBy(p, to) - appliedBy(p, from);
  const rate = (events: number, s: { first: number; last: number }) =>
    Math.round(events / Math.max(0.001, (s.last - s.first) / 1000));
  return {
    thisEventsPerSecond: rate(BURST_EVENTS, m),
    baseEventsPerSecond: rate(BURST_EVENTS, b),
    sharedWindowMs: to - from,
    sharedWindowRatio: round2(inWindow(mine.progress) / Math.max(1, inWindow(base.progress))),
    thisNodeMicrosPerEvent: round2(mine.cpuMicros / BURST_EVENTS),
    baseNodeMicrosPerEvent: round2(base.cpuMicros / BURST_EVENTS),
  };
}

async function main() {
  if (!BASE) throw new Error('BENCH_BASE: the path of the checkout to compare with (see the header)');
  const sides = [new Side('this', process.cwd()), new Side('base', resolve(BASE))];
  const kafka = createKafka({
    brokers: common.KAFKA_BROKERS,
    clientId: 'bench-sbs',
    logger: createLogger('bench-sbs', 'warn'),
  });
  const redis = new Redis(common.REDIS_URL);
  const phases: {
    round: number;
    rate: number;
    achievedRate: number;
    thisRedisMicrosPerEvent: number;
    baseRedisMicrosPerEvent: number;
    this: Omit<PhaseFigures, 'progress'>;
    base: Omit<PhaseFigures, 'progress'>;
  }[] = [];
  const bursts: ({
    round: number;
    thisRedisMicrosPerEvent: number;
    baseRedisMicrosPerEvent: number;
  } & ReturnType<typeof compareBurst>)[] = [];
  // where each Redis' time went over all bursts: which command (or script call) costs more
  const burstCommands = sides.map(() => new Map<string, { calls: number; usec: number }>());
  let redisAtEnd: Record<string, Record<string, number>> | undefined;
  try {
    for (const [i, side] of sides.entries()) await side.prepare(kafka, i);
    for (const side of sides) await side.start();
    log(`warm-up: ${WARMUP_EVENTS} events to each release as fast as they go`);
    await load(sides, WARMUP_EVENTS, 0);
    for (const side of sides) while ((await side.events()) < WARMUP_EVENTS + SKUS) await sleep(200);
    await sleep(SETTLE_MS);

    for (let round = 1; round <= ROUNDS; round++) {
      for (const rate of RATES) {
        const phaseRedisCpu = await Promise.all(sides.map((s) => s.redisCpuSeconds()));
        await Promise.all(sides.map((s) => s.ask({ cmd: 'collect' })));
        // which release's copy is first in each produce request alternates with the round
        const achievedRate = await load(
          round % 2 ? sides : [...sides].reverse(),
          rate * STEADY_SECONDS,
          rate,
        );
        const [mine, base] = (await Promise.all(
          sides.map((s) => s.ask({ cmd: 'report', events: rate * STEADY_SECONDS })),
        )) as unknown as [PhaseFigures, PhaseFigures];
        // the phase's events and whatever background work (changelog, sweeps) ran beside them
        const phaseRedisMicros = await Promise.all(
          sides.map(async (s, i) =>
            round2((((await s.redisCpuSeconds()) - phaseRedisCpu[i]!) / (rate * STEADY_SECONDS)) * 1e6),
          ),
        );
        phases.push({
          round,
          rate,
          achievedRate,
          thisRedisMicrosPerEvent: phaseRedisMicros[0]!,
          baseRedisMicrosPerEvent: phaseRedisMicros[1]!,
          this: withoutProgress(mine),
          base: withoutProgress(base),
        });
        log(
          `round ${round}, ${achievedRate}/s each: p99 this ${mine.p99Ms} ms, base ${base.p99Ms} ms ` +
            `(${round2(mine.p99Ms / Math.max(1, base.p99Ms))}x); p50 ${mine.p50Ms} vs ${base.p50Ms} ms`,
        );
        await sleep(BETWEEN_PHASES_MS);
      }
      if (BURST_EVENTS > 0) {
        const redisCpu = await Promise.all(sides.map((s) => s.redisCpuSeconds()));
        const statsBefore = await Promise.all(sides.map((s) => s.commandStats()));
        await Promise.all(sides.map((s) => s.ask({ cmd: 'collect' })));
        await load(round % 2 ? sides : [...sides].reverse(), BURST_EVENTS, 0);
        const [mine, base] = (await Promise.all(
          sides.map((s) => s.ask({ cmd: 'report', events: BURST_EVENTS })),
        )) as unknown as [PhaseFigures, PhaseFigures];
        const redisMicros = await Promise.all(
          sides.map(async (s, i) =>
            round2((((await s.redisCpuSeconds()) - redisCpu[i]!) / BURST_EVENTS) * 1e6),
          ),
        );
        const statsAfter = await Promise.all(sides.map((s) => s.commandStats()));
        sides.forEach((_, i) => addCommandStats(burstCommands[i]!, statsBefore[i]!, statsAfter[i]!));
        const burst = {
          ...compareBurst(mine, base),
          thisRedisMicrosPerEvent: redisMicros[0]!,
          baseRedisMicrosPerEvent: redisMicros[1]!,
        };
        bursts.push({ round, ...burst });
        log(
          `round ${round}, burst of ${BURST_EVENTS}: while both ran, this applied ${burst.sharedWindowRatio}x ` +
            `the events of the base; ${burst.thisEventsPerSecond} vs ${burst.baseEventsPerSecond} events/s; ` +
            `Node CPU ${burst.thisNodeMicrosPerEvent} vs ${burst.baseNodeMicrosPerEvent} µs/event` +
            (OWN_REDIS ? `, Redis ${burst.thisRedisMicrosPerEvent} vs ${burst.baseRedisMicrosPerEvent}` : ''),
        );
        await sleep(BETWEEN_PHASES_MS);
      }
    }
    redisAtEnd = Object.fromEntries(
      await Promise.all(sides.map(async (s) => [s.name, await s.redisState()])),
    );
    if (OWN_REDIS) console.log('each Redis at the end:', JSON.stringify(redisAtEnd));
  } finally {
    await Promise.all(sides.map((s) => s.stop()));
    log(`removed the run's ${await deleteRunKeys(redis, run)} Redis keys`);
    redis.disconnect();
  }

  const byRate = RATES.map((rate) => {
    const at = phases.filter((p) => p.rate === rate);
    const ratios = at.map((p) => p.this.p99Ms / Math.max(1, p.base.p99Ms));
    const interval = bootstrapGeometricMean(ratios);
    return {
      ratePerRelease: rate,
      phases: at.length,
      thisP99Ms: at.map((p) => p.this.p99Ms),
      baseP99Ms: at.map((p) => p.base.p99Ms),
      p99RatioPerPhase: ratios.map(round2),
      p99RatioGeometricMean: round2(geometricMean(ratios)),
      p99RatioInterval90: { low: round2(interval.low), high: round2(interval.high) },
      p99RatioMedian: round2(median(ratios)),
      p99RatioOfMedians: round2(
        median(at.map((p) => p.this.p99Ms)) / Math.max(1, median(at.map((p) => p.base.p99Ms))),
      ),
      p50RatioGeometricMean: round2(geometricMean(at.map((p) => p.this.p50Ms / Math.max(1, p.base.p50Ms)))),
      phasesThisLower: ratios.filter((r) => r < 1).length,
      withinFifteenPercent: interval.high <= 1.15,
    };
  });
  const summarize = (ratios: number[]) => {
    if (!ratios.length) return null;
    const interval = bootstrapGeometricMean(ratios);
    return {
      geometricMean: round2(geometricMean(ratios)),
      interval90: { low: round2(interval.low), high: round2(interval.high) },
      perRound: ratios.map(round2),
    };
  };
  const throughput = {
    burstEvents: BURST_EVENTS,
    // this / base: events applied while both ran, and Node CPU per event
    eventsWhileBothRan: summarize(bursts.map((b) => b.sharedWindowRatio)),
    nodeCpuPerEvent: summarize(bursts.map((b) => b.thisNodeMicrosPerEvent / b.baseNodeMicrosPerEvent)),
    redisCpuPerEvent: OWN_REDIS
      ? summarize(bursts.map((b) => b.thisRedisMicrosPerEvent / b.baseRedisMicrosPerEvent))
      : null,
    // every phase, steady ones included: the background work a burst inherits from the phase
    // before it evens out over the run
    redisCpuPerEventAllPhases: OWN_REDIS
      ? summarize([...phases, ...bursts].map((p) => p.thisRedisMicrosPerEvent / p.baseRedisMicrosPerEvent))
      : null,
  };
  console.log(`\n${ROUNDS} rounds, both releases at once; this checkout / base (${BASE})`);
  if (throughput.eventsWhileBothRan && throughput.nodeCpuPerEvent)
    console.log(
      `bursts of ${BURST_EVENTS}: events applied while both ran ${throughput.eventsWhileBothRan.geometricMean}x ` +
        `(90 % interval ${throughput.eventsWhileBothRan.interval90.low}-${throughput.eventsWhileBothRan.interval90.high}); ` +
        `Node CPU per event ${throughput.nodeCpuPerEvent.geometricMean}x ` +
        `(${throughput.nodeCpuPerEvent.interval90.low}-${throughput.nodeCpuPerEvent.interval90.high})` +
        (throughput.redisCpuPerEvent
          ? `; Redis CPU per event ${throughput.redisCpuPerEvent.geometricMean}x ` +
            `(${throughput.redisCpuPerEvent.interval90.low}-${throughput.redisCpuPerEvent.interval90.high})`
          : ''),
    );
  if (throughput.redisCpuPerEventAllPhases)
    console.log(
      `Redis CPU per event over every phase (steady and burst): ${throughput.redisCpuPerEventAllPhases.geometricMean}x ` +
        `(90 % interval ${throughput.redisCpuPerEventAllPhases.interval90.low}-${throughput.redisCpuPerEventAllPhases.interval90.high})`,
    );
  for (const r of byRate)
    console.log(
      `${String(r.ratePerRelease).padStart(6)}/s each: p99 ratio geometric mean ${r.p99RatioGeometricMean}x ` +
        `(90 % interval ${r.p99RatioInterval90.low}-${r.p99RatioInterval90.high}), median ${r.p99RatioMedian}x, ` +
        `ratio of medians ${r.p99RatioOfMedians}x; this lower in ${r.phasesThisLower}/${r.phases}; ` +
        `p50 ratio ${r.p50RatioGeometricMean}x; within 15 %: ${r.withinFifteenPercent ? 'yes' : 'not shown'}`,
    );
  const burstTotal = bursts.length * BURST_EVENTS;
  const redisCommands = Object.fromEntries(
    sides.map((side, i) => [
      side.name,
      Object.fromEntries(
        [...burstCommands[i]!]
          .filter(([, c]) => c.calls > 0)
          .sort((a, b) => b[1].usec - a[1].usec)
          .map(([name, c]) => [
            name,
            { callsPerEvent: round2(c.calls / burstTotal), microsPerEvent: round2(c.usec / burstTotal) },
          ]),
      ),
    ]),
  );
  if (OWN_REDIS && burstTotal > 0) {
    console.log(
      'Redis commands in the bursts (scripts include the commands they run), per event this | base:',
    );
    for (const name of Object.keys(redisCommands.this ?? {}).slice(0, 12)) {
      const [t, b] = [redisCommands.this?.[name], redisCommands.base?.[name]];
      console.log(
        `  ${name.padEnd(12)} calls ${t?.callsPerEvent ?? 0} | ${b?.callsPerEvent ?? 0}, ` +
          `µs ${t?.microsPerEvent ?? 0} | ${b?.microsPerEvent ?? 0}`,
      );
    }
  }
  const file = writeResults('latency-side-by-side', {
    at: new Date().toISOString(),
    command: 'BENCH_BASE=<checkout> node --import tsx bench/latency-side-by-side.ts',
    settings: {
      base: BASE,
      rounds: ROUNDS,
      ratesPerRelease: RATES,
      steadySeconds: STEADY_SECONDS,
      warmupEvents: WARMUP_EVENTS,
      burstEvents: BURST_EVENTS,
      ownRedis: OWN_REDIS,
      skus: SKUS,
    },
    byRate,
    throughput,
    redisCommands,
    redisAtEnd,
    phases,
    bursts,
    machine: describeMachine(),
  });
  console.log(`results: ${file}`);
}

runMain(main);
