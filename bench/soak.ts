/**
 * The soak run: every processor on demo traffic at a steady rate for a long while, with the
 * clocks that bound Redis keys compressed (event-id and final-order windows of a minute, holds,
 * stale orders and silent shipments closed within two), on a Redis of its own so that its
 * memory is theirs alone. Memory must rise while the windows fill and then stay flat while
 * events keep flowing: every key has a bound.
 *
 *   npm run stack -- up && npm run soak        (SOAK_MINUTES, default 12; stop `npm start` first)
 *
 * Environment: SOAK_MINUTES (12), SOAK_RATE (400 events/s), SOAK_SKUS (500).
 * Writes bench/results/soak.json: Redis used memory and keys every 15 s, and events processed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import type { Message } from 'kafkajs';
import { loadCommonConfig } from '../runtime/config.js';
import { committedLag } from '../runtime/group-lag.js';
import { createKafka, createProducer } from '../runtime/kafka.js';
import { createLogger } from '../runtime/logger.js';
import { AvroCodec } from '../schemas/codec.js';
import type { SchemaTopic } from '../schemas/types.js';
import { DemoTraffic } from '../scripts/demo-traffic.js';
import { PrivateRedis } from '../scripts/private-redis.js';
import { setupTopics } from './bench-kit.js';
import { describeMachine, writeResults, runMain } from './machine.js';

const MINUTES = Number(process.env.SOAK_MINUTES ?? 12);
const RATE = Number(process.env.SOAK_RATE ?? 400);
const SKUS = Number(process.env.SOAK_SKUS ?? 500);
const common = loadCommonConfig();
const logger = createLogger('soak', 'warn');
const run = Date.now().toString(36);
const prefix = `soak-${run}-`;
const kafka = createKafka({ brokers: common.KAFKA_BROKERS, clientId: 'soak', logger });
const codec = AvroCodec.connect(common.SCHEMA_REGISTRY_URL, prefix);
const log = (msg: string) => console.log(`[soak] ${msg}`);

// every clock that bounds a key, compressed so that the windows fill within minutes
const clocks = {
  INVENTORY_EVENT_ID_TTL_SECONDS: '60',
  INVENTORY_FINAL_ORDER_TTL_SECONDS: '60',
  INVENTORY_HOLD_LIMIT_SECONDS: '120',
  ORDERS_PAYMENT_DEADLINE_MS: '20000',
  ORDERS_FINAL_TTL_SECONDS: '60',
  ORDERS_STALE_AFTER_SECONDS: '90',
  LOGISTICS_FINAL_TTL_SECONDS: '60',
  LOGISTICS_CLOSE_AFTER_SECONDS: '90',
  LOGISTICS_SILENCE_MS: '30000',
  LOGISTICS_CHECK_INTERVAL_MS: '1000',
};

async function main() {
  const port = 17000 + Math.floor(Math.random() * 900);
  const server = await PrivateRedis.start(port);
  const redis = new Redis({ port, lazyConnect: true });
  const procs: ChildProcess[] = [];
  try {
    await setupTopics(kafka, common.SCHEMA_REGISTRY_URL, prefix);
    const env = {
      ...process.env,
      ...clocks,
      TOPIC_PREFIX: prefix,
      REDIS_URL: `redis://127.0.0.1:${port}`,
      LOG_LEVEL: 'warn',
      METRICS_ENABLED: 'false',
      INVENTORY_GROUP_ID: `${prefix}inventory`,
      ORDERS_GROUP_ID: `${prefix}orders`,
      LOGISTICS_GROUP_ID: `${prefix}logistics`,
    };
    for (const entry of [
      'processors/inventory/main.ts',
      'processors/orders/main.ts',
      'processors/logistics/main.ts',
    ]) {
      const child = spawn(process.execPath, ['--import', 'tsx', entry], {
        env,
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      procs.push(child);
    }

    const producer = createProducer(kafka);
    await producer.connect();
    const traffic = new DemoTraffic({ seed: 4242, skus: SKUS });
    const ids = new Map<string, number>();
    const send = async (batch: ReturnType<DemoTraffic['next']>[]) => {
      const byTopic = new Map<string, Message[]>();
      for (const m of batch) {
        let id = ids.get(m.topic);
        if (id === undefined) ids.set(m.topic, (id = await codec.writerId(m.topic as SchemaTopic)));
        const list = byTopic.get(m.topic) ?? [];
        list.push({ key: m.key, value: codec.encodeWithId(m.topic as SchemaTopic, id, m.value as never) });
        byTopic.set(m.topic, list);
      }
      await producer.sendBatch({
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic: `${prefix}${topic}`, messages })),
        acks: -1,
      });
    };
    await send([...traffic.opening()]);

    const samples: { minute: number; usedMemoryBytes: number; keys: number; events: number }[] = [];
    const sample = async (minute: number, events: number) => {
      const used = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);
      const keys = await redis.dbsize();
      samples.push({ minute: Math.round(minute * 100) / 100, usedMemoryBytes: used, keys, events });
      log(
        `${minute.toFixed(1)} min: ${events} events, Redis ${(used / 2 ** 20).toFixed(1)} MiB, ${keys} keys`,
      );
    };
    const t0 = Date.now();
    let produced = 0;
    let nextSample = 0;
    while (Date.now() - t0 < MINUTES * 60_000) {
      const tick = Date.now();
      const batch = Array.from({ length: Math.max(1, Math.round(RATE / 10)) }, () => traffic.next());
      await send(batch);
      produced += batch.length;
      if (Date.now() - t0 >= nextSample) {
        await sample((Date.now() - t0) / 60_000, produced);
        nextSample += 15_000;
      }
      const wait = 100 - (Date.now() - tick);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    await producer.disconnect();
    const lag = await committedLag(kafka, `${prefix}inventory`, [`${prefix}stock`, `${prefix}orders`]);
    await sample((Date.now() - t0) / 60_000, produced);

    // flat: after the longest clock (two minutes) and one more for the windows to turn over,
    // how memory moves per minute compared with its level
    const warm = samples.filter((s) => s.minute >= 4);
    const first = warm[0];
    const last = warm[warm.length - 1];
    const slope =
      first && last && last.minute > first.minute
        ? (last.usedMemoryBytes - first.usedMemoryBytes) / (last.minute - first.minute)
        : Number.NaN;
    const summary = {
      events: produced,
      minutes: MINUTES,
      rate: RATE,
      inventoryLagAtEnd: lag,
      usedMemoryAtStartBytes: samples[0]?.usedMemoryBytes,
      usedMemoryAfterWarmUpBytes: first?.usedMemoryBytes,
      usedMemoryAtEndBytes: last?.usedMemoryBytes,
      keysAfterWarmUp: first?.keys,
      keysAtEnd: last?.keys,
      memoryChangePerMinuteAfterWarmUpBytes: Math.round(slope),
      memoryChangePerMinuteAfterWarmUpPercent: first
        ? Math.round((slope / first.usedMemoryBytes) * 1000) / 10
        : Number.NaN,
    };
    const file = writeResults('soak', {
      benchmark: 'soak',
      at: new Date().toISOString(),
      machine: describeMachine(/redis_version:(\S+)/.exec(await redis.info('server'))?.[1]),
      clocks,
      summary,
      samples,
    });
    console.log(
      `\nsoak: ${produced} events in ${MINUTES} min; Redis ${((first?.usedMemoryBytes ?? 0) / 2 ** 20).toFixed(1)} MiB after warm-up, ` +
        `${((last?.usedMemoryBytes ?? 0) / 2 ** 20).toFixed(1)} MiB at the end (${summary.memoryChangePerMinuteAfterWarmUpPercent} %/min)\nresults: ${file}`,
    );
  } finally {
    await Promise.all(
      procs.map(
        (c) =>
          new Promise((r) => {
            if (c.exitCode !== null) return r(null);
            c.once('exit', r);
            c.kill('SIGTERM');
          }),
      ),
    );
    redis.disconnect();
    await server.remove();
  }
}

runMain(main);
