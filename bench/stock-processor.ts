/**
 * Stock processor benchmark: throughput against two baselines measured in the same run,
 * end-to-end latency at a steady rate, and Redis memory per SKU.
 *
 *   npm run bench:stock            (needs the stack: npm run stack -- up; stop `npm start` first)
 *
 * Environment: BENCH_EVENTS (200000), BENCH_SKUS (5000), BENCH_NAIVE_EVENTS (20000),
 * BENCH_RATE (5000), BENCH_STEADY_SECONDS (30), BENCH_MEMORY_SKUS (1000000),
 * BENCH_MEMORY_DB (9: an empty Redis database for the memory figure).
 * Writes bench/results/stock-processor.json.
 */
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import type { Kafka } from 'kafkajs';
import { loadInventoryConfig } from '../processors/inventory/config.js';
import {
  validateOrderEvent,
  validateStockEvent,
  type StockCommand,
} from '../processors/inventory/commands.js';
import { InventoryOutputs } from '../processors/inventory/outputs.js';
import { InventoryService } from '../processors/inventory/service.js';
import { StockStore } from '../processors/inventory/store.js';
import { loadCommonConfig } from '../runtime/config.js';
import { createKafka, createProducer } from '../runtime/kafka.js';
import { createLogger } from '../runtime/logger.js';
import { percentile } from '../runtime/metrics.js';
import { AvroCodec } from '../schemas/codec.js';
import { CollectingSink, seedCatalogueAndStock, setupTopics } from './bench-kit.js';
import { microsPerEvent, sampleCpu } from './cpu-meter.js';
import { describeMachine, writeResults } from './machine.js';
import { produce, sku, SKUS } from './workload.js';

const env = (name: string, dflt: number) => Number(process.env[name] ?? dflt);
const EVENTS = env('BENCH_EVENTS', 200_000);
const NAIVE_EVENTS = env('BENCH_NAIVE_EVENTS', 20_000);
const RATE = env('BENCH_RATE', 5_000);
const STEADY_SECONDS = env('BENCH_STEADY_SECONDS', 30);
const MEMORY_SKUS = env('BENCH_MEMORY_SKUS', 1_000_000);
const MEMORY_DB = env('BENCH_MEMORY_DB', 9);

const common = loadCommonConfig();
const logger = createLogger('bench', 'warn');
const run = Date.now().toString(36);
const prefix = `bench-${run}-`;
const kafka = createKafka({ brokers: common.KAFKA_BROKERS, clientId: 'bench', logger });
const codec = AvroCodec.connect(common.SCHEMA_REGISTRY_URL, prefix);
const redis = new Redis(common.REDIS_URL);
const log = (msg: string) => console.log(`[bench] ${msg}`);

/** Baseline 1: a kafkajs consumer that does nothing but resolve and commit. */
async function doNothingConsumer(k: Kafka, topics: string[], total: number): Promise<number> {
  const consumer = k.consumer({ groupId: `${prefix}noop`, maxBytesPerPartition: 1024 * 1024 });
  await consumer.connect();
  for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  let first = 0;
  const done = new Promise<number>((resolve) => {
    void consumer.run({
      partitionsConsumedConcurrently: 4,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary }) => {
        if (!first) first = performance.now();
        for (const m of batch.messages) resolveOffset(m.offset);
        seen += batch.messages.length;
        await heartbeat();
        await commitOffsetsIfNecessary();
        if (seen >= total) resolve(performance.now() - first);
      },
    });
  });
  const ms = await done;
  await consumer.disconnect();
  return (total / ms) * 1000;
}

/** Baseline 2: the same scripts, called once per message, outputs sent per message. */
async function naiveProcessor(topics: string[], count: number): Promise<number> {
  const tag = `bench-naive-${run}`;
  const store = new StockStore(redis, { keyTag: tag });
  for (let i = 0; i < SKUS; i += 1000) {
    await store.applyCatalogue(
      Array.from({ length: Math.min(1000, SKUS - i) }, (_, j) => ({
        sku: sku(i + j),
        version: 1,
        lowStockThreshold: 5,
        safetyStock: 0,
      })),
    );
  }
  const outputs = new InventoryOutputs(codec, {
    reservationResults: `${prefix}reservation-results`,
    stockLevels: `${prefix}stock-levels`,
    alerts: `${prefix}alerts`,
  });
  await outputs.init();
  const producer = createProducer(kafka);
  await producer.connect();
  const consumer = kafka.consumer({ groupId: `${prefix}naive` });
  await consumer.connect();
  for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  let first = 0;
  const done = new Promise<number>((resolve) => {
    void consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        if (!first) first = performance.now();
        const now = Date.now();
        const isStock = topic.endsWith('stock');
        const verdict = isStock
          ? validateStockEvent(await codec.decode('stock', message.value), now)
          : validateOrderEvent(await codec.decode('orders', message.value), now);
        if (verdict.ok && verdict.command) {
          const offset = Number(message.offset);
          const res = await store.applyBatch(
            topic,
            partition,
            [{ offset, command: verdict.command as StockCommand }],
            offset - 1,
          );
          const msgs = res.applied.flatMap((r) =>
            r.outputs.map((o) =>
              outputs.build(o, { eventId: r.eventId ?? '', topic, partition, offset }, now),
            ),
          );
          for (const o of msgs)
            await producer.send({ topic: o.topic, messages: [{ key: o.key, value: o.value }], acks: -1 });
        }
        seen += 1;
        if (seen === count) resolve(performance.now() - first);
      },
    });
  });
  const ms = await done;
  await consumer.disconnect();
  await producer.disconnect();
  return (count / ms) * 1000;
}

async function memoryPerSku(): Promise<Record<string, number>> {
  // A database of its own: the keyspace table grows in powers of two, so keys already in db 0
  // (an earlier run's state) changed what a million more cost (160-208 B/SKU in runs of the same
  // code). used_memory is server-wide; nothing else writes while this runs.
  const redis = new Redis(common.REDIS_URL, { db: MEMORY_DB });
  if ((await redis.dbsize()) > 0)
    throw new Error(`Redis db ${MEMORY_DB} is not empty: the memory figure needs it empty`);
  const tag = `bench-mem-${run}`;
  const store = new StockStore(redis, { keyTag: tag });
  const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);
  const before = await usedMemory();
  const chunk = 2000;
  for (let i = 0; i < MEMORY_SKUS; i += chunk) {
    const n = Math.min(chunk, MEMORY_SKUS - i);
    const skus = Array.from({ length: n }, (_, j) => `M-${String(i + j).padStart(7, '0')}`);
    await store.applyCatalogue(
      skus.map((s) => ({ sku: s, version: 1, lowStockThreshold: 10, safetyStock: 2 })),
    );
    await store.applyBatch(
      'mem',
      0,
      skus.map((s, j) => ({
        offset: i + j,
        command: { kind: 'RECEIVED' as const, eventId: `m-${i + j}`, sku: s, quantity: 100 + j },
      })),
      i - 1,
    );
  }
  const withMarkers = await usedMemory();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `{${tag}}:e:*`, 'COUNT', 5000);
    // DEL, not UNLINK: the memory must be free before it is measured
    if (keys.length) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  await redis.del(`{${tag}}:ob:mem:0`, `{${tag}}:wm:mem:0`);
  // Emptied hash tables (the keyspace's and the expiry table's, sized for the markers) shrink in
  // the server's background cron, not at once: measure once used_memory has settled, as it is
  // in steady state when the markers expire.
  let skuOnly = await usedMemory();
  for (let waited = 0; waited < 20_000; waited += 1000) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = await usedMemory();
    if (Math.abs(now - skuOnly) < skuOnly * 0.001) break;
    skuOnly = now;
  }
  // per-key cross-check: key, value and their allocations, without the keyspace table
  let sampled = 0;
  for (let i = 0; i < MEMORY_SKUS; i += Math.max(1, Math.floor(MEMORY_SKUS / 1000))) {
    sampled += Number(await redis.memory('USAGE', `{${tag}}:s:M-${String(i).padStart(7, '0')}`));
  }
  const result = {
    skus: MEMORY_SKUS,
    bytesPerSku: Math.round((skuOnly - before) / MEMORY_SKUS),
    bytesPerSkuWithReceiptMarker: Math.round((withMarkers - before) / MEMORY_SKUS),
    memoryUsagePerSkuKeySampled: Math.round(sampled / Math.min(1000, MEMORY_SKUS)),
  };
  cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `{${tag}}:*`, 'COUNT', 5000);
    if (keys.length) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
  await redis.quit();
  return result;
}

async function main() {
  const redisVersion = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1];
  log(`prefix ${prefix}: ${EVENTS} events over ${SKUS} SKUs`);
  await setupTopics(kafka, common.SCHEMA_REGISTRY_URL, prefix);
  await seedCatalogueAndStock(kafka, codec, prefix);
  const t0 = Date.now();
  const produced = (await produce(kafka, codec, prefix, EVENTS, 1)) + SKUS;
  log(`produced ${produced} input events in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  const topics = [`${prefix}stock`, `${prefix}orders`];

  const cpu0 = await sampleCpu(redis);
  const noopRate = await doNothingConsumer(kafka, topics, produced);
  const noopCpu = microsPerEvent(cpu0, await sampleCpu(redis), produced);
  log(`do-nothing kafkajs consumer: ${Math.round(noopRate)} events/s`);

  const sink = new CollectingSink();
  const cfg = loadInventoryConfig({
    ...process.env,
    TOPIC_PREFIX: prefix,
    INVENTORY_KEY_TAG: `bench-${run}`,
    INVENTORY_GROUP_ID: `${prefix}inventory`,
    LOG_LEVEL: 'warn',
  });
  const service = new InventoryService(cfg, logger, sink);
  await service.start();
  const cpu1 = await sampleCpu(redis);
  while (sink.events < produced) await new Promise((r) => setTimeout(r, 20));
  const processorRate = (sink.events / (sink.last - sink.first)) * 1000;
  const processorCpu = microsPerEvent(cpu1, await sampleCpu(redis), produced);
  log(`stock processor: ${Math.round(processorRate)} events/s`);
  log(
    `CPU per event: do-nothing consumer ${noopCpu.process} µs (broker ${noopCpu.kafka} µs); ` +
      `stock processor ${processorCpu.process} µs + Redis ${processorCpu.redis} µs + broker ${processorCpu.kafka} µs`,
  );

  // latency at a steady rate, with the processor caught up and running
  sink.collectLatency = true;
  sink.latencies = [];
  const steadyEvents = RATE * STEADY_SECONDS;
  const before = sink.events;
  // baseline: a do-nothing consumer in its own process sees the same messages at the same time
  const noop = spawn(
    process.execPath,
    ['--import', 'tsx', 'bench/noop-latency-consumer.ts', prefix, String(steadyEvents)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let noopOut = '';
  noop.stdout.on('data', (d: Buffer) => (noopOut += d.toString()));
  const noopExited = new Promise((resolve) => noop.once('exit', resolve));
  await new Promise<void>((resolve) => {
    const check = () => (noopOut.includes('ready') ? resolve() : setTimeout(check, 100));
    check();
  });
  await new Promise((r) => setTimeout(r, 3000)); // its group settles before the load starts
  const steadyStartAt = Date.now();
  // the load comes from a process of its own: sharing this event loop would add its work to the latency
  const loader = spawn(
    process.execPath,
    ['--import', 'tsx', 'bench/load-producer.ts', prefix, String(steadyEvents), String(RATE)],
    {
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  const code: unknown = await new Promise((resolve) => loader.once('exit', resolve));
  if (code !== 0) throw new Error(`load producer failed (${code})`);
  const achievedRate = steadyEvents / ((Date.now() - steadyStartAt) / 1000);
  await noopExited;
  const noopLatency = JSON.parse(noopOut.split('\n').find((l) => l.includes('"p50Ms"')) ?? '{}') as Record<
    string,
    number
  >;
  while (sink.events < before + steadyEvents) await new Promise((r) => setTimeout(r, 20));
  const sorted = sink.latencies.sort((a, b) => a - b);
  const latency = {
    targetRate: RATE,
    achievedRate: Math.round(achievedRate),
    events: sorted.length,
    p50Ms: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted[sorted.length - 1] ?? 0,
    doNothingConsumerBaseline: noopLatency,
  };
  log(
    `latency at ${latency.achievedRate}/s: p50 ${latency.p50Ms} ms, p99 ${latency.p99Ms} ms ` +
      `(do-nothing consumer, same messages: p50 ${noopLatency.p50Ms} ms, p99 ${noopLatency.p99Ms} ms)`,
  );
  await service.stop();

  const naiveRate = await naiveProcessor(topics, Math.min(NAIVE_EVENTS, produced));
  log(`naive one-EVAL-per-message processor: ${Math.round(naiveRate)} events/s`);

  log(`loading ${MEMORY_SKUS} SKUs for the memory figure`);
  const memory = await memoryPerSku();
  log(
    `Redis memory: ${memory.bytesPerSku} bytes per SKU (${memory.bytesPerSkuWithReceiptMarker} with one receipt's event-id marker)`,
  );

  const results = {
    benchmark: 'stock-processor',
    at: new Date().toISOString(),
    machine: describeMachine(redisVersion),
    parameters: {
      events: produced,
      skus: SKUS,
      naiveEvents: NAIVE_EVENTS,
      steadyRate: RATE,
      steadySeconds: STEADY_SECONDS,
    },
    throughput: {
      doNothingConsumerEventsPerSecond: Math.round(noopRate),
      naiveOneEvalPerMessageEventsPerSecond: Math.round(naiveRate),
      stockProcessorEventsPerSecond: Math.round(processorRate),
      ratioVsDoNothing: Math.round((processorRate / noopRate) * 100) / 100,
      ratioVsNaive: Math.round((processorRate / naiveRate) * 10) / 10,
      targets: { vsDoNothing: 0.8, vsNaive: 10 },
      // where the time goes: the three share the same cores, so their sum bounds the rate
      cpuMicrosPerEvent: { doNothingConsumer: noopCpu, stockProcessor: processorCpu },
    },
    latency: { ...latency, targetP99Ms: 15 },
    memory: { ...memory, targetBytesPerSku: 200 },
  };
  const file = writeResults('stock-processor', results);
  console.log(
    `\nstock processor: ${results.throughput.ratioVsDoNothing}x a do-nothing consumer (target 0.8x), ` +
      `${results.throughput.ratioVsNaive}x one EVAL per message (target 10x); ` +
      `p99 ${latency.p99Ms} ms at ${latency.achievedRate}/s (target 15 ms); ` +
      `${memory.bytesPerSku} B/SKU (target 200)\nresults: ${file}`,
  );
  await redis.quit();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
