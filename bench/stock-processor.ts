/**
 * Stock processor benchmark: throughput against two baselines measured in the same run,
 * end-to-end latency at a steady rate, and Redis memory per SKU.
 *
 *   npm run bench:stock            (needs the stack: npm run stack -- up; stop `npm start` first)
 *
 * Environment: BENCH_EVENTS (200000), BENCH_SKUS (5000), BENCH_NAIVE_EVENTS (20000),
 * BENCH_RATES (5000,10000,20000: steady rates for the latency figures), BENCH_STEADY_SECONDS (20), BENCH_MEMORY_SKUS (1000000),
 * BENCH_MEMORY_DB (9: an empty Redis database for the memory figure),
 * BENCH_ORDER_LOGISTICS_EVENTS (100000: demo traffic for the order and logistics figures).
 * Writes bench/results/stock-processor.json.
 */
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import type { Batch, Kafka } from 'kafkajs';
import { loadInventoryConfig } from '../processors/inventory/config.js';
import {
  validateOrderEvent,
  validateStockEvent,
  type StockCommand,
} from '../processors/inventory/commands.js';
import { InventoryOutputs } from '../processors/inventory/outputs.js';
import { InventoryService } from '../processors/inventory/service.js';
import { SKU_BUCKETS } from '../processors/inventory/sku-record.js';
import { StockStore } from '../processors/inventory/store.js';
import { loadCommonConfig } from '../runtime/config.js';
import { createKafka, createProducer } from '../runtime/kafka.js';
import { createLogger } from '../runtime/logger.js';
import { AvroCodec } from '../schemas/codec.js';
import {
  CollectingSink,
  deleteRunKeys,
  phaseLatency,
  seedCatalogueAndStock,
  setupTopics,
} from './bench-kit.js';
import { microsPerEvent, sampleCpu } from './cpu-meter.js';
import { orderAndLogisticsFigures } from './order-logistics.js';
import { seedCatalogue } from './script-workload.js';
import { describeMachine, writeResults } from './machine.js';
import { produce, SKUS } from './workload.js';

const env = (name: string, dflt: number) => Number(process.env[name] ?? dflt);
const EVENTS = env('BENCH_EVENTS', 200_000);
const NAIVE_EVENTS = env('BENCH_NAIVE_EVENTS', 20_000);
const RATES = (process.env.BENCH_RATES ?? '5000,10000,20000').split(',').map(Number);
const STEADY_SECONDS = env('BENCH_STEADY_SECONDS', 20);
const MEMORY_SKUS = env('BENCH_MEMORY_SKUS', 1_000_000);
const MEMORY_DB = env('BENCH_MEMORY_DB', 9);
const OL_EVENTS = env('BENCH_ORDER_LOGISTICS_EVENTS', 100_000);

const common = loadCommonConfig();
const logger = createLogger('bench', 'warn');
const run = Date.now().toString(36);
const prefix = `bench-${run}-`;
const kafka = createKafka({ brokers: common.KAFKA_BROKERS, clientId: 'bench', logger });
const codec = AvroCodec.connect(common.SCHEMA_REGISTRY_URL, prefix);
const redis = new Redis(common.REDIS_URL);
const log = (msg: string) => console.log(`[bench] ${msg}`);

/**
 * Consumes `total` messages of `topics` from the start under a group of its own, `work` done on
 * each batch before its offsets resolve and commit; returns messages per second.
 */
async function consumeAll(
  k: Kafka,
  group: string,
  topics: string[],
  total: number,
  work: (batch: Batch) => Promise<void>,
): Promise<number> {
  const consumer = k.consumer({ groupId: `${prefix}${group}`, maxBytesPerPartition: 1024 * 1024 });
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
        await work(batch);
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

/** Baseline 1: a kafkajs consumer that does nothing but resolve and commit. */
function doNothingConsumer(k: Kafka, topics: string[], total: number): Promise<number> {
  return consumeAll(k, 'noop', topics, total, async () => undefined);
}

/**
 * Baseline 3: what every processor pays anyway, without Redis: each input decoded through the
 * registry codec and one output record per input produced (acks all, idempotent, as ours), then
 * the offsets committed.
 */
async function decodeAndForward(k: Kafka, topics: string[], total: number): Promise<number> {
  const sinkTopic = `${prefix}forwarded`;
  const admin = k.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: sinkTopic, numPartitions: 6 }] });
  await admin.disconnect();
  const ids = { stock: await codec.writerId('stock'), orders: await codec.writerId('orders') };
  const producer = createProducer(k);
  await producer.connect();
  const rate = await consumeAll(k, 'forward', topics, total, async (batch) => {
    const kind = batch.topic.endsWith('stock') ? 'stock' : 'orders';
    const messages = [];
    for (const m of batch.messages) {
      const value = await codec.decode(kind, m.value);
      messages.push({ key: m.key, value: codec.encodeWithId(kind, ids[kind], value as never) });
    }
    // in chunks of the processor's size: one record batch must stay under the broker's limit
    for (let i = 0; i < messages.length; i += 500)
      await producer.send({ topic: sinkTopic, messages: messages.slice(i, i + 500), acks: -1 });
  });
  await producer.disconnect();
  return rate;
}

/** Baseline 2: the same scripts, called once per message, outputs sent per message. */
async function naiveProcessor(topics: string[], count: number): Promise<number> {
  const tag = `bench-naive-${run}`;
  const store = new StockStore(redis, { keyTag: tag });
  await seedCatalogue(store);
  const outputs = new InventoryOutputs(codec, {
    reservationResults: `${prefix}reservation-results`,
    stockLevels: `${prefix}stock-levels`,
    alerts: `${prefix}alerts`,
    replenishment: `${prefix}replenishment`,
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
    const applied = await store.applyBatch(
      'mem',
      0,
      skus.map((s, j) => ({
        offset: i + j,
        command: { kind: 'RECEIVED' as const, eventId: `m-${i + j}`, sku: s, quantity: 100 + j },
      })),
      i - 1,
    );
    // as the processor does once Kafka has its level records: nothing owed stays marked
    await store.changelog.ackPublishedLevels(applied.levels);
  }
  const withMarkers = await usedMemory();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `{${tag}}:eb:*`, 'COUNT', 5000);
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
  // per-bucket cross-check: MEMORY USAGE of sampled buckets over the SKUs they hold
  let sampled = 0;
  let sampledSkus = 0;
  for (let bucket = 0; bucket < SKU_BUCKETS; bucket += 64) {
    const key = `{${tag}}:sb:${bucket}`;
    sampled += Number((await redis.memory('USAGE', key)) ?? 0);
    sampledSkus += await redis.hlen(key);
  }
  const result = {
    skus: MEMORY_SKUS,
    bytesPerSku: Math.round((skuOnly - before) / MEMORY_SKUS),
    bytesPerSkuWithReceiptMarker: Math.round((withMarkers - before) / MEMORY_SKUS),
    memoryUsagePerSkuSampled: Math.round(sampled / Math.max(1, sampledSkus)),
  };
  await deleteRunKeys(redis, tag);
  await redis.quit();
  return result;
}

/**
 * Latency at a steady rate, with the processor caught up and running: event time to state
 * applied, beside a do-nothing consumer in its own process that sees the same messages.
 */
async function latencyAt(sink: CollectingSink, rate: number) {
  sink.startCollecting();
  const steadyEvents = rate * STEADY_SECONDS;
  const before = sink.events;
  const noop = spawn(
    process.execPath,
    ['--import', 'tsx', 'bench/noop-latency-consumer.ts', prefix, String(steadyEvents)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let noopOut = '';
  noop.stdout.on('data', (d: Buffer) => (noopOut += d.toString()));
  // 'close', not 'exit': a child's last stdout lines can arrive after its exit event
  const noopExited = new Promise((resolve) => noop.once('close', resolve));
  await new Promise<void>((resolve) => {
    const check = () => (noopOut.includes('ready') ? resolve() : setTimeout(check, 100));
    check();
  });
  await new Promise((r) => setTimeout(r, 3000)); // its group settles before the load starts
  const steadyStartAt = Date.now();
  // the load comes from a process of its own: sharing this event loop would add its work to the latency
  const loader = spawn(
    process.execPath,
    // a seed per rate: phases replaying the first one's events would measure the duplicate check
    [
      '--import',
      'tsx',
      'bench/load-producer.ts',
      prefix,
      String(steadyEvents),
      String(rate),
      String(10 + rate),
    ],
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
  sink.collectLatency = false;
  const phase = phaseLatency(sink);
  const latency = {
    targetRate: rate,
    achievedRate: Math.round(achievedRate),
    ...phase,
    doNothingConsumerBaseline: noopLatency,
    // no ratio without a baseline (its consumer saw nothing in time or failed): said, not invented
    p99VsDoNothing:
      noopLatency.p99Ms === undefined
        ? null
        : Math.round((phase.p99Ms / Math.max(1, noopLatency.p99Ms)) * 10) / 10,
  };
  log(
    `latency at ${latency.achievedRate}/s: p50 ${latency.p50Ms} ms, p99 ${latency.p99Ms} ms ` +
      (noopLatency.p99Ms === undefined
        ? `(do-nothing consumer: no figure, its output was ${JSON.stringify(noopOut.slice(-300))})`
        : `(do-nothing consumer, same messages: p50 ${noopLatency.p50Ms} ms, p99 ${noopLatency.p99Ms} ms; ${latency.p99VsDoNothing}x)`) +
      `; slowest event by second: ${latency.maxMsBySecond.join(' ')}; slowest batches ` +
      phase.slowestBatches
        .map(
          (b) =>
            `${b.maxMs} ms at ${b.atMs} (chunk ${b.processingMs}, Redis ${b.redisMs}, publish ${b.publishMs})`,
        )
        .join(', '),
  );
  return latency;
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
  const cpuF = await sampleCpu(redis);
  const forwardRate = await decodeAndForward(kafka, topics, produced);
  const forwardCpu = microsPerEvent(cpuF, await sampleCpu(redis), produced);
  log(`decode-and-forward: ${Math.round(forwardRate)} events/s`);

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
      `decode-and-forward ${forwardCpu.process} µs (broker ${forwardCpu.kafka} µs); ` +
      `stock processor ${processorCpu.process} µs + Redis ${processorCpu.redis} µs + broker ${processorCpu.kafka} µs`,
  );

  const latencies = [];
  for (const rate of RATES) latencies.push(await latencyAt(sink, rate));
  await service.stop();

  const naiveRate = await naiveProcessor(topics, Math.min(NAIVE_EVENTS, produced));
  log(`naive one-EVAL-per-message processor: ${Math.round(naiveRate)} events/s`);

  const olPrefix = `${prefix}ol-`;
  await setupTopics(kafka, common.SCHEMA_REGISTRY_URL, olPrefix);
  const ol = await orderAndLogisticsFigures(
    kafka,
    AvroCodec.connect(common.SCHEMA_REGISTRY_URL, olPrefix),
    redis,
    olPrefix,
    run,
    logger,
    OL_EVENTS,
  );
  for (const [name, f] of [
    ['order', ol.orders],
    ['logistics', ol.logistics],
  ] as const) {
    log(
      `${name} processor: ${f.eventsPerSecond} events/s over ${f.events} inputs; CPU per event ` +
        `${f.cpuMicrosPerEvent.process} µs + Redis ${f.cpuMicrosPerEvent.redis} µs + broker ${f.cpuMicrosPerEvent.kafka} µs`,
    );
  }

  log(`loading ${MEMORY_SKUS} SKUs for the memory figure`);
  const memory = await memoryPerSku();
  log(
    `Redis memory: ${memory.bytesPerSku} bytes per SKU (${memory.bytesPerSkuWithReceiptMarker} with one receipt's event-id marker)`,
  );

  const cpuTotal = (c: { process: number; redis: number; kafka: number }) =>
    Math.round((c.process + c.redis + c.kafka) * 10) / 10;
  const at5k = latencies.find((l) => l.targetRate === 5000) ?? latencies[0];
  const results = {
    benchmark: 'stock-processor',
    at: new Date().toISOString(),
    machine: describeMachine(redisVersion),
    durability: cfg.REDIS_DURABILITY,
    parameters: {
      events: produced,
      skus: SKUS,
      naiveEvents: NAIVE_EVENTS,
      steadyRates: RATES,
      steadySeconds: STEADY_SECONDS,
    },
    throughput: {
      doNothingConsumerEventsPerSecond: Math.round(noopRate),
      decodeAndForwardEventsPerSecond: Math.round(forwardRate),
      naiveOneEvalPerMessageEventsPerSecond: Math.round(naiveRate),
      stockProcessorEventsPerSecond: Math.round(processorRate),
      ratioVsDoNothing: Math.round((processorRate / noopRate) * 100) / 100,
      ratioVsDecodeAndForward: Math.round((processorRate / forwardRate) * 100) / 100,
      ratioVsNaive: Math.round((processorRate / naiveRate) * 10) / 10,
      targets: { vsDecodeAndForward: 0.5, vsNaive: 10 },
      // where the time goes: they share the same cores, so the sum bounds the rate
      cpuMicrosPerEvent: {
        doNothingConsumer: noopCpu,
        decodeAndForward: forwardCpu,
        stockProcessor: processorCpu,
        stockProcessorTotal: cpuTotal(processorCpu),
        targetTotal: 30,
      },
    },
    latency: { byRate: latencies, targetP99VsDoNothingAt5000: 2 },
    memory: { ...memory, targetBytesPerSku: 120 },
    // mixed demo traffic (orders placed/paid/cancelled/shipped, carrier scans), each processor alone
    orderProcessor: { ...ol.orders, inputs: ol.traffic },
    logisticsProcessor: ol.logistics,
  };
  const file = writeResults('stock-processor', results);
  console.log(
    `\nstock processor: ${results.throughput.ratioVsDecodeAndForward}x decode-and-forward (target 0.5x), ` +
      `${results.throughput.ratioVsDoNothing}x a do-nothing consumer, ` +
      `${results.throughput.ratioVsNaive}x one EVAL per message (target 10x); ` +
      `CPU ${cpuTotal(processorCpu)} µs per event (target 30); ` +
      `p99 ${at5k?.p99Ms} ms at ${at5k?.achievedRate}/s = ${at5k?.p99VsDoNothing}x the do-nothing consumer's (target 2x); ` +
      `${memory.bytesPerSku} B/SKU (target 120)\nresults: ${file}`,
  );
}

main()
  .finally(async () => log(`removed the run's ${await deleteRunKeys(redis, run)} Redis keys`))
  .then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
