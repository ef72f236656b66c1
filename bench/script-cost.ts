/**
 * The stock scripts' cost alone, without Kafka: the benchmark's workload validated into commands
 * and applied in chunks, as the processor does, on a Redis of its own (AOF, fsync per write).
 * Prints Redis CPU per event, per-script µs per event (INFO commandstats) and the Node CPU the
 * store spends preparing arguments and reading replies; then the same commands through
 * bench/lua/stock-floor.lua, the least a script keeping the same state could do, and the
 * scripts' Redis CPU as a ratio of it.
 *
 *   node --import tsx bench/script-cost.ts
 *
 * Environment: BENCH_EVENTS (200000), BENCH_SKUS (5000), BENCH_CHUNK (1000 events per call),
 * BENCH_PARTITIONS (6 chunks per call, one per input partition), BENCH_LUA_SECTIONS=1: a profiling
 * build of the scripts that also prints µs per event between their `--- @section` markers (each
 * marker costs a TIME call, about 1.5 µs per call: noise at 1,000-event chunks, not at small ones).
 */
import { Redis } from 'ioredis';
import { validateOrderEvent, validateStockEvent } from '../processors/inventory/commands.js';
import { StockStore } from '../processors/inventory/store.js';
import { SECTION_PROFILE_KEY } from '../runtime/lua-scripts.js';
import { PrivateRedis } from '../scripts/private-redis.js';
import { commandStats } from './cpu-meter.js';
import { floorRedisMicros } from './stock-floor.js';
import { partitionWorkload, seedStock } from './script-workload.js';
import { sku, SKUS } from './workload.js';
import { runMain } from './machine.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 200_000);
const CHUNK = Number(process.env.BENCH_CHUNK ?? 1_000);
const PARTITIONS = Number(process.env.BENCH_PARTITIONS ?? 6);
const PORT = Number(process.env.BENCH_REDIS_PORT ?? 26399);

async function redisCpu(r: Redis): Promise<number> {
  const info = await r.info('cpu');
  const f = (n: string) => Number(new RegExp(`${n}:([\\d.]+)`).exec(info)?.[1]);
  return f('used_cpu_user') + f('used_cpu_sys');
}

async function main() {
  const server = await PrivateRedis.start(PORT, process.env.BENCH_AOF === 'no' ? ['--appendonly', 'no'] : []);
  const redis = new Redis({ port: PORT });
  try {
    const sections = process.env.BENCH_LUA_SECTIONS === '1';
    const store = new StockStore(redis, {
      keyTag: 'cost',
      durability: { kind: 'none' },
      luaSectionProfile: sections,
    });
    await seedStock(store);
    const { parts, count: n } = partitionWorkload(EVENTS, PARTITIONS, validateStockEvent, validateOrderEvent);
    const offsets = parts.map(() => 0);
    const cpu0 = await redisCpu(redis);
    await redis.config('RESETSTAT');
    await redis.del(SECTION_PROFILE_KEY);
    const node0 = process.cpuUsage();
    const t0 = performance.now();
    let calls = 0;
    // what the scripts decided to publish, by kind (results, alerts by kind, suggestions)
    const outputs = new Map<string, number>();
    for (;;) {
      const segments = [];
      for (const [i, p] of parts.entries()) {
        const from = offsets[i] as number;
        const items = p.items.slice(from, from + CHUNK);
        if (!items.length) continue;
        offsets[i] = from + items.length;
        segments.push({ topic: p.topic, partition: p.partition, items, trimUpTo: from - 1 });
      }
      if (!segments.length) break;
      const results = await store.applyBatches(segments);
      calls += 1;
      for (const r of results)
        for (const e of r.applied)
          for (const o of e.outputs) {
            const kind = o.k === 'alert' ? o.kind : o.k;
            outputs.set(kind, (outputs.get(kind) ?? 0) + 1);
          }
      if (!process.env.BENCH_NO_ACK)
        await store.changelog.ackPublishedLevels(results.flatMap((r) => r.levels));
    }
    const ms = performance.now() - t0;
    const node = process.cpuUsage(node0);
    const redisSeconds = (await redisCpu(redis)) - cpu0;
    const stats = await commandStats(redis);
    console.log(
      `${n} events in ${calls} calls of ${PARTITIONS} chunks of up to ${CHUNK}: ${Math.round((n / ms) * 1000)} events/s`,
    );
    console.log(
      `outputs per 1,000 events: ${[...outputs]
        .sort((a, b) => b[1] - a[1])
        .map(([k, c]) => `${k} ${((c / n) * 1000).toFixed(1)}`)
        .join(', ')}`,
    );
    console.log(
      `CPU per event: Redis ${((redisSeconds / n) * 1e6).toFixed(1)} µs, Node (store) ${(((node.user + node.system) / n) * 1).toFixed(1)} µs`,
    );
    for (const [name, { calls, usec }] of stats) {
      if (usec / n < 0.05) continue;
      console.log(
        `  ${name.padEnd(16)} ${(calls / n).toFixed(2).padStart(6)} per event  ${(usec / n).toFixed(2).padStart(6)} µs/event`,
      );
    }
    // the same commands through a script that keeps only what must be kept (bench/lua/stock-floor.lua)
    const productMicros = (redisSeconds / n) * 1e6;
    await redis.config('RESETSTAT');
    const floorMicros = await floorRedisMicros(
      redis,
      parts,
      CHUNK,
      Array.from({ length: SKUS }, (_, i) => sku(i)),
      1000,
    );
    console.log(
      `Floor (packed records, markers, order records, outbox, position; no changelog, alerts or holds index): ` +
        `Redis ${floorMicros.toFixed(1)} µs per event; the stock scripts use ${(productMicros / floorMicros).toFixed(1)}x that`,
    );
    if (sections) {
      // the set-up calls (catalogue, opening stock) are left out: only the measured loop counts
      const profile = Object.entries(await redis.hgetall(SECTION_PROFILE_KEY));
      const total = profile.reduce((sum, [, us]) => sum + Number(us), 0);
      console.log(`Lua sections, µs per event (${(total / n).toFixed(1)} in all):`);
      for (const [name, us] of profile) {
        console.log(
          `  ${name.padEnd(24)} ${(Number(us) / n).toFixed(2).padStart(6)}  ${((100 * Number(us)) / total).toFixed(1).padStart(5)} %`,
        );
      }
    }
  } finally {
    redis.disconnect();
    await server.remove();
  }
}

runMain(main);
