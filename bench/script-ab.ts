/**
 * The stock scripts of this checkout against those of another one (the previous release), on
 * the same workload, call by call in turn. On a shared host whose speed drifts (by a third
 * within an hour here) two runs one after the other compare the host, not the code; taking
 * turns call by call, each side meets the same host, so their ratio holds however it drifts.
 *
 *   git worktree add /tmp/base <previous release> && (cd /tmp/base && npm ci)
 *   BENCH_BASE=/tmp/base node --import tsx bench/script-ab.ts
 *
 * Each side runs its own StockStore and command validation (its own modules, scripts and record
 * format) against a Redis of its own (AOF, fsync per write, as bench/script-cost.ts), fed the
 * same events (bench/workload.ts of this checkout) in the same chunks. Prints, per side, Redis
 * CPU, Node CPU and time per event, the changed side as ratios of the base, and the spread of
 * the per-round ratios; writes bench/results/script-ab.json.
 *
 * Environment: BENCH_BASE (required), BENCH_EVENTS (200000), BENCH_SKUS (5000), BENCH_CHUNK
 * (1000 events per chunk), BENCH_PARTITIONS (6 chunks per call), BENCH_AOF=no.
 */
import { describeMachine, writeResults, runMain } from './machine.js';
import { aofSize, CHUNK, openSide, PARTITIONS, step, type Side } from './script-sides.js';
import { SKUS } from './workload.js';

const BASE = process.env.BENCH_BASE;
const EVENTS = Number(process.env.BENCH_EVENTS ?? 200_000);

const round1 = (n: number) => Math.round(n * 10) / 10;
const round3 = (n: number) => Math.round(n * 1000) / 1000;

async function figures(side: Side) {
  return {
    aofBytesPerEvent: Math.round(((await aofSize(side.redis)) - side.aofAtStart) / side.events),
    eventsPerSecond: Math.round((side.events / side.ms) * 1000),
    redisMicrosPerEvent: round1((side.redisSeconds / side.events) * 1e6),
    nodeMicrosPerEvent: round1(side.nodeMicros / side.events),
  };
}

async function main() {
  if (!BASE) throw new Error('BENCH_BASE: the path of the checkout to compare with (see the header)');
  const sides = [
    await openSide('base', BASE, 26401, EVENTS),
    await openSide('this', process.cwd(), 26402, EVENTS),
  ];
  try {
    // in turn, the order swapped every round: neither side always runs right after the other
    let round = 0;
    for (;;) {
      const order = round % 2 ? [...sides].reverse() : sides;
      const more = [];
      for (const side of order) more.push(await step(side));
      if (!more.some(Boolean)) break;
      round += 1;
    }
    const [base, mine] = sides as [Side, Side];
    const b = await figures(base);
    const m = await figures(mine);
    const perRound = mine.rounds.map((us, i) => us / (base.rounds[i] as number)).sort((x, y) => x - y);
    const ratios = {
      eventsPerSecond: round3(m.eventsPerSecond / b.eventsPerSecond),
      redisCpu: round3(m.redisMicrosPerEvent / b.redisMicrosPerEvent),
      nodeCpu: round3(m.nodeMicrosPerEvent / b.nodeMicrosPerEvent),
      aofBytes: round3(m.aofBytesPerEvent / Math.max(1, b.aofBytesPerEvent)),
      redisCpuPerRound: {
        min: round3(perRound[0] as number),
        median: round3(perRound[Math.floor(perRound.length / 2)] as number),
        max: round3(perRound[perRound.length - 1] as number),
      },
    };
    console.log(`${base.events} events each, ${round} rounds of ${PARTITIONS} chunks of up to ${CHUNK}`);
    for (const [name, f] of [
      [`base (${BASE})`, b],
      ['this checkout', m],
    ] as const)
      console.log(
        `${name.padEnd(40)} ${String(f.eventsPerSecond).padStart(7)} events/s  Redis ${f.redisMicrosPerEvent} µs/event  Node ${f.nodeMicrosPerEvent} µs/event  AOF ${f.aofBytesPerEvent} B/event`,
      );
    console.log(
      `this / base: events/s ${ratios.eventsPerSecond}x, Redis CPU ${ratios.redisCpu}x (per round ${ratios.redisCpuPerRound.min}-${ratios.redisCpuPerRound.max}, median ${ratios.redisCpuPerRound.median}), Node CPU ${ratios.nodeCpu}x, AOF bytes ${ratios.aofBytes}x`,
    );
    const version = /redis_version:(\S+)/.exec(await mine.redis.info('server'))?.[1];
    const file = writeResults('script-ab', {
      at: new Date().toISOString(),
      command: 'BENCH_BASE=<checkout> node --import tsx bench/script-ab.ts',
      settings: { events: base.events, skus: SKUS, chunk: CHUNK, partitions: PARTITIONS, rounds: round },
      base: { dir: BASE, ...b },
      this: m,
      ratios,
      machine: describeMachine(version),
    });
    console.log(`results: ${file}`);
  } finally {
    for (const side of sides) {
      side.redis.disconnect();
      await side.server.remove();
    }
  }
}

runMain(main);
