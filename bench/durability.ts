/**
 * What the durability policy costs: the stock processor on the same pre-produced events, under
 * each policy twice (after a warm-up pass), in one run, each pass on a fresh key tag and group:
 *   none      Redis with appendfsync everysec, outputs published once Redis answered;
 *   fsync     appendfsync always (the default policy, REDIS_DURABILITY=fsync);
 *   replicas  a replica started for the run, WAIT 1 after every script call.
 *
 *   npm run stack -- up && npm run bench:durability      (about 4 minutes)
 *
 * Environment: BENCH_EVENTS (100000), BENCH_SKUS (5000). Writes bench/results/durability.json.
 * It changes the local Redis' appendfsync while it runs and puts `always` back at the end.
 */
import { Redis } from 'ioredis';
import { loadInventoryConfig } from '../processors/inventory/config.js';
import { InventoryService } from '../processors/inventory/service.js';
import { loadCommonConfig } from '../runtime/config.js';
import { createKafka } from '../runtime/kafka.js';
import { createLogger } from '../runtime/logger.js';
import { PrivateRedis } from '../scripts/private-redis.js';
import { AvroCodec } from '../schemas/codec.js';
import { CollectingSink, seedCatalogueAndStock, setupTopics } from './bench-kit.js';
import { microsPerEvent, sampleCpu } from './cpu-meter.js';
import { describeMachine, writeResults, runMain } from './machine.js';
import { produce, SKUS } from './workload.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 100_000);
const common = loadCommonConfig();
const logger = createLogger('bench', 'warn');
const run = Date.now().toString(36);
const prefix = `bench-dur-${run}-`;
const kafka = createKafka({ brokers: common.KAFKA_BROKERS, clientId: 'bench', logger });
const codec = AvroCodec.connect(common.SCHEMA_REGISTRY_URL, prefix);
const redisUrl = new URL(common.REDIS_URL);
// the default user: the pipeline user may read the configuration, not change it
const admin = new Redis({ host: redisUrl.hostname, port: Number(redisUrl.port) });
const log = (msg: string) => console.log(`[bench] ${msg}`);

async function runProcessor(policy: string, events: number, extra: Record<string, string>) {
  const sink = new CollectingSink();
  const cfg = loadInventoryConfig({
    ...process.env,
    TOPIC_PREFIX: prefix,
    INVENTORY_KEY_TAG: `bench-dur-${run}-${policy}`,
    INVENTORY_GROUP_ID: `${prefix}inventory-${policy}`,
    LOG_LEVEL: 'warn',
    ...extra,
  });
  const service = new InventoryService(cfg, logger, sink);
  const cpu0 = await sampleCpu(admin);
  await service.start();
  while (sink.events < events) await new Promise((r) => setTimeout(r, 20));
  const rate = (sink.events / (sink.last - sink.first)) * 1000;
  const cpu = microsPerEvent(cpu0, await sampleCpu(admin), events);
  await service.stop();
  log(`${policy}: ${Math.round(rate)} events/s; CPU µs/event: processor ${cpu.process}, Redis ${cpu.redis}`);
  return { eventsPerSecond: Math.round(rate), cpuMicrosPerEvent: cpu };
}

async function main() {
  const redisVersion = /redis_version:(\S+)/.exec(await admin.info('server'))?.[1];
  await setupTopics(kafka, common.SCHEMA_REGISTRY_URL, prefix);
  await seedCatalogueAndStock(kafka, codec, prefix);
  const produced = (await produce(kafka, codec, prefix, EVENTS, 1)) + SKUS;
  log(`${produced} events produced under ${prefix}`);

  const results: Record<string, { eventsPerSecond: number; runs: unknown[] }> = {};
  const record = (policy: string, r: { eventsPerSecond: number }) => {
    const entry = results[policy] ?? { eventsPerSecond: 0, runs: [] };
    entry.runs.push(r);
    entry.eventsPerSecond = Math.round(
      entry.runs.reduce((n: number, x) => n + (x as { eventsPerSecond: number }).eventsPerSecond, 0) /
        entry.runs.length,
    );
    results[policy] = entry;
  };
  const without = async (round: string) => {
    await admin.config('SET', 'appendfsync', 'everysec');
    return runProcessor(`none-${round}`, produced, { REDIS_DURABILITY: 'none' });
  };
  const fsync = async (round: string) => {
    await admin.config('SET', 'appendfsync', 'always');
    return runProcessor(`fsync-${round}`, produced, { REDIS_DURABILITY: 'fsync' });
  };
  try {
    // the first pass warms the JIT and the broker's page cache: not counted
    await without('warm-up');
    // each policy twice, interleaved, so a drift of the machine does not favour one
    record('none', await without('1'));
    record('fsync', await fsync('1'));
    record('none', await without('2'));
    record('fsync', await fsync('2'));

    // a replica of the local Redis for the run, so WAIT has someone to wait for
    const replica = await PrivateRedis.start(Number(redisUrl.port) + 1000, [
      '--replicaof',
      '127.0.0.1',
      redisUrl.port,
      '--appendonly',
      'no',
    ]);
    try {
      const r = new Redis({ port: replica.port, lazyConnect: true });
      for (let i = 0; i < 100; i++) {
        const info = await r.info('replication').catch(() => '');
        if (info.includes('master_link_status:up')) break;
        await new Promise((res) => setTimeout(res, 200));
      }
      r.disconnect();
      await admin.config('SET', 'appendfsync', 'everysec');
      for (const round of ['1', '2']) {
        record(
          'replicas',
          await runProcessor(`replicas-${round}`, produced, {
            REDIS_DURABILITY: 'replicas',
            REDIS_WAIT_REPLICAS: '1',
          }),
        );
      }
    } finally {
      await replica.remove();
    }
  } finally {
    await admin.config('SET', 'appendfsync', 'always');
  }
  const none = results.none?.eventsPerSecond ?? Number.NaN;
  const ratio = (k: string) => Math.round(((results[k]?.eventsPerSecond ?? Number.NaN) / none) * 100) / 100;
  const file = writeResults('durability', {
    benchmark: 'durability',
    at: new Date().toISOString(),
    machine: describeMachine(redisVersion),
    parameters: { events: produced, skus: SKUS },
    policies: results,
    ratioVsNone: { fsync: ratio('fsync'), replicas: ratio('replicas') },
  });
  console.log(
    `\ndurability cost: fsync ${ratio('fsync')}x, WAIT 1 replica ${ratio('replicas')}x the events/s without either\nresults: ${file}`,
  );
  admin.disconnect();
}

runMain(main);
