/**
 * One release's stock scripts fed the script benchmarks' workload (script-workload.ts) on a
 * Redis of its own: its own modules, scripts and record format, loaded from its checkout.
 * Shared by script-ab.ts (Redis CPU, in turn) and script-instructions.ts (instructions counted).
 */
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import type { StockCommand } from '../processors/inventory/commands.js';
import type { StockStore } from '../processors/inventory/store.js';
import { PrivateRedis } from '../scripts/private-redis.js';
import type { OrderEvent, StockEvent } from '../schemas/types.js';
import { partitionWorkload, seedStock, type ScriptPart } from './script-workload.js';

/** events per partition's chunk, and chunks (partitions) per call, as the processor sends them */
export const CHUNK = Number(process.env.BENCH_CHUNK ?? 1_000);
export const PARTITIONS = Number(process.env.BENCH_PARTITIONS ?? 6);

type Validate<E> = (e: E, now: number) => { ok: boolean; command?: StockCommand | null };
export interface Side {
  name: string;
  dir: string;
  server: PrivateRedis;
  redis: Redis;
  store: StockStore;
  parts: ScriptPart[];
  offsets: number[];
  redisSeconds: number;
  nodeMicros: number;
  ms: number;
  events: number;
  /** Redis CPU µs per event of each round */
  rounds: number[];
  /** the AOF's size once seeded: what the events add to it drives how often Redis rewrites it */
  aofAtStart: number;
}

export async function redisCpu(r: Redis): Promise<number> {
  const info = await r.info('cpu');
  const f = (n: string) => Number(new RegExp(`${n}:([\\d.]+)`).exec(info)?.[1]);
  return f('used_cpu_user') + f('used_cpu_sys');
}

/** One side: its own modules, a Redis of its own, its catalogue and opening stock loaded. */
export async function openSide(
  name: string,
  dir: string,
  port: number,
  events: number,
  wrapper: readonly string[] = [],
  eventsPerSecond = 0,
): Promise<Side> {
  const storeModule = (await import(resolve(dir, 'processors/inventory/store.ts'))) as {
    StockStore: new (redis: Redis, options: Record<string, unknown>) => StockStore;
  };
  const commands = (await import(resolve(dir, 'processors/inventory/commands.ts'))) as {
    validateStockEvent: Validate<StockEvent>;
    validateOrderEvent: Validate<OrderEvent>;
  };
  // no automatic AOF rewrites: one would land in one side's turn, and the AOF's growth is a figure
  const server = await PrivateRedis.start(
    port,
    process.env.BENCH_AOF === 'no' ? ['--appendonly', 'no'] : ['--auto-aof-rewrite-percentage', '0'],
    wrapper,
  );
  const redis = new Redis({ port });
  const store = new storeModule.StockStore(redis, { keyTag: 'ab', durability: { kind: 'none' } });
  let aofAtStart: number;
  try {
    await seedStock(store);
    aofAtStart = await aofSize(redis);
  } catch (err) {
    // a side whose scripts fail to load or seed leaves no server behind
    redis.disconnect();
    await server.remove();
    throw err;
  }
  const { parts, count } = partitionWorkload(
    events,
    PARTITIONS,
    commands.validateStockEvent,
    commands.validateOrderEvent,
    eventsPerSecond,
  );
  return {
    name,
    dir,
    server,
    redis,
    store,
    parts,
    offsets: parts.map(() => 0),
    redisSeconds: 0,
    nodeMicros: 0,
    ms: 0,
    events: count,
    rounds: [],
    aofAtStart,
  };
}

export async function aofSize(r: Redis): Promise<number> {
  return Number(/aof_current_size:(\d+)/.exec(await r.info('persistence'))?.[1] ?? 0);
}

/** The side's next call (a chunk of every partition) and the acknowledgement of its levels; false when done. */
export async function step(side: Side): Promise<boolean> {
  const segments = [];
  let events = 0;
  for (const [i, p] of side.parts.entries()) {
    const from = side.offsets[i] as number;
    const items = p.items.slice(from, from + CHUNK);
    if (!items.length) continue;
    side.offsets[i] = from + items.length;
    events += items.length;
    segments.push({ topic: p.topic, partition: p.partition, items, trimUpTo: from - 1 });
  }
  if (!segments.length) return false;
  const cpu0 = await redisCpu(side.redis);
  const node0 = process.cpuUsage();
  const t0 = performance.now();
  const results = await side.store.applyBatches(segments);
  await side.store.changelog.ackPublishedLevels(results.flatMap((r) => r.levels));
  side.ms += performance.now() - t0;
  const node = process.cpuUsage(node0);
  side.nodeMicros += node.user + node.system;
  const seconds = (await redisCpu(side.redis)) - cpu0;
  side.redisSeconds += seconds;
  side.rounds.push((seconds / events) * 1e6);
  return true;
}
