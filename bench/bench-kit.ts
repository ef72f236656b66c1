/** Pieces the stock benchmarks share: topics, the seeded catalogue and stock, a metrics sink. */
import type { Redis } from 'ioredis';
import type { Kafka } from 'kafkajs';
import { createProducer } from '../runtime/kafka.js';
import { type BatchMetric, type MetricsSink, percentile } from '../runtime/metrics.js';
import { AvroCodec } from '../schemas/codec.js';
import { registerAllSchemas } from '../schemas/register.js';
import type { TopicValues } from '../schemas/types.js';
import { applyTopics } from '../topics/apply.js';
import { sku, SKUS } from './workload.js';

export async function setupTopics(kafka: Kafka, registryUrl: string, p: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await applyTopics(admin, p);
  await admin.disconnect();
  await registerAllSchemas(AvroCodec.connect(registryUrl, p), registryUrl);
}

/** One record per bench SKU on `topic`, produced in batches of 1,000. */
async function producePerSku<T extends 'catalogue' | 'stock'>(
  kafka: Kafka,
  codec: AvroCodec,
  p: string,
  topic: T,
  valueOf: (s: string, i: number) => TopicValues[T],
): Promise<void> {
  const producer = createProducer(kafka);
  await producer.connect();
  const id = await codec.writerId(topic);
  for (let i = 0; i < SKUS; i += 1000) {
    const messages = [];
    for (let j = i; j < Math.min(SKUS, i + 1000); j++) {
      messages.push({ key: sku(j), value: codec.encodeWithId(topic, id, valueOf(sku(j), j)) });
    }
    await producer.send({ topic: `${p}${topic}`, messages, acks: -1 });
  }
  await producer.disconnect();
}

/** The catalogue of every bench SKU and opening stock, so that most orders reserve. */
export async function seedCatalogueAndStock(kafka: Kafka, codec: AvroCodec, p: string): Promise<void> {
  await producePerSku(kafka, codec, p, 'catalogue', (s) => ({
    sku: s,
    version: 1,
    name: s,
    category: 'bench',
    lowStockThreshold: 5,
    safetyStock: 0,
    active: true,
    updatedAt: Date.now(),
  }));
  await producePerSku(kafka, codec, p, 'stock', (s, j) => ({
    eventId: `open-${j}`,
    sku: s,
    type: 'RECEIVED',
    quantity: 1000,
    occurredAt: Date.now(),
    reason: null,
    warehouseId: null,
  }));
}

export class CollectingSink implements MetricsSink {
  events = 0;
  first = 0;
  last = 0;
  latencies: number[] = [];
  collectLatency = false;
  /** while collecting: when (ms since collecting started) each batch applied and its slowest event */
  batchTimes: {
    atMs: number;
    maxMs: number;
    events: number;
    processingMs: number;
    redisMs: number;
    publishMs: number;
  }[] = [];
  private collectingSince = 0;
  startCollecting(): void {
    this.latencies = [];
    this.batchTimes = [];
    this.collectingSince = performance.now();
    this.collectLatency = true;
  }
  record(m: BatchMetric): void {
    if (!this.first) this.first = performance.now() - m.processingMs;
    this.events += m.eventsIn;
    this.last = performance.now();
    if (!this.collectLatency) return;
    let max = 0;
    for (const l of m.latenciesMs) {
      this.latencies.push(l);
      if (l > max) max = l;
    }
    this.batchTimes.push({
      atMs: Math.round(this.last - this.collectingSince),
      maxMs: max,
      events: m.latenciesMs.length,
      processingMs: Math.round(m.processingMs),
      redisMs: Math.round(m.redisMs),
      publishMs: Math.round(m.publishMs ?? 0),
    });
  }
  async close(): Promise<void> {}
}

/**
 * The latencies collected since `startCollecting`, and where in the phase the tail is: the slowest
 * event of each second (a start-up backlog, a periodic stall or spread evenly) and the five
 * slowest batches (slow inside the chunk, in Redis or in publication, or waiting before it).
 */
export function phaseLatency(sink: CollectingSink) {
  const sorted = sink.latencies.sort((a, b) => a - b);
  const maxMsBySecond: number[] = [];
  for (const b of sink.batchTimes) {
    const second = Math.floor(b.atMs / 1000);
    maxMsBySecond[second] = Math.max(maxMsBySecond[second] ?? 0, b.maxMs);
  }
  return {
    events: sorted.length,
    p50Ms: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted[sorted.length - 1] ?? 0,
    maxMsBySecond: Array.from(maxMsBySecond, (m) => m ?? 0),
    slowestBatches: [...sink.batchTimes].sort((a, b) => b.maxMs - a.maxMs).slice(0, 5),
  };
}

/**
 * Deletes what a benchmark run left in Redis: every key whose hash tag holds the run's id. A
 * run leaves hundreds of thousands of keys (order records and event ids are kept for weeks), and
 * a Redis that grows run after run forks and rewrites a larger AOF each time, which moves the
 * next run's figures.
 */
export async function deleteRunKeys(redis: Redis, run: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `{*${run}*}*`, 'COUNT', 5000);
    if (keys.length) deleted += await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
  return deleted;
}
