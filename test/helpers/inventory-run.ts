import type { Redis } from 'ioredis';
import type { Kafka } from 'kafkajs';
import type { OpsContext } from '../../processors/inventory/ops.js';
import { StockStore } from '../../processors/inventory/store.js';
import { readTopicToEnd } from '../../runtime/topic-reader.js';
import type { AvroCodec } from '../../schemas/codec.js';
import type { Alert, ReservationResult } from '../../schemas/types.js';
import { provisionPrefix, uniquePrefix } from './pipeline.js';
import { groupLag, spawnProcessor, waitFor, type Spawned } from './processes.js';
import { TestProducer } from './produce.js';
import { testRedis, uniqueTag } from './redis.js';

/** Everything a test needs to run real stock-processor processes on topics and keys of its own. */
export interface InventoryRun {
  prefix: string;
  tag: string;
  group: string;
  codec: AvroCodec;
  store: StockStore;
  redis: Redis;
  producer: TestProducer;
  inputs: string[];
  start: (extra?: Record<string, string>) => Spawned;
  /** an order processor on this run's topics, its state under `keyTag` */
  startOrders: (keyTag: string, extra?: Record<string, string>) => Spawned;
  /** a logistics processor on this run's topics, its state under `keyTag` */
  startLogistics: (keyTag: string, extra?: Record<string, string>) => Spawned;
  caughtUp: (topics?: string[]) => Promise<void>;
  results: () => Promise<Map<string, ReservationResult[]>>;
  /** every alert on this run's alerts topic, decoded */
  alerts: () => Promise<Alert[]>;
  ops: () => OpsContext;
  close: () => Promise<void>;
}

export async function inventoryRun(kafka: Kafka, name: string): Promise<InventoryRun> {
  const prefix = uniquePrefix(name);
  const tag = uniqueTag(name);
  const group = `${prefix}inventory`;
  const codec = await provisionPrefix(prefix);
  const redis = testRedis();
  const store = new StockStore(redis, { keyTag: tag });
  const producer = new TestProducer(kafka, codec, prefix);
  await producer.connect();
  const inputs = [`${prefix}stock`, `${prefix}orders`];
  return {
    prefix,
    tag,
    group,
    codec,
    store,
    redis,
    producer,
    inputs,
    start: (extra = {}) =>
      spawnProcessor('processors/inventory/main.ts', {
        TOPIC_PREFIX: prefix,
        INVENTORY_KEY_TAG: tag,
        INVENTORY_GROUP_ID: group,
        INVENTORY_SESSION_TIMEOUT_MS: '6000',
        ...extra,
      }),
    startOrders: (keyTag, extra = {}) =>
      spawnProcessor('processors/orders/main.ts', {
        TOPIC_PREFIX: prefix,
        ORDERS_KEY_TAG: keyTag,
        ORDERS_GROUP_ID: `${prefix}orders`,
        ORDERS_SESSION_TIMEOUT_MS: '6000',
        ...extra,
      }),
    startLogistics: (keyTag, extra = {}) =>
      spawnProcessor('processors/logistics/main.ts', {
        TOPIC_PREFIX: prefix,
        LOGISTICS_KEY_TAG: keyTag,
        LOGISTICS_GROUP_ID: `${prefix}logistics`,
        LOGISTICS_SESSION_TIMEOUT_MS: '6000',
        ...extra,
      }),
    caughtUp: (topics = inputs) =>
      waitFor(`${group} caught up`, async () => (await groupLag(kafka, group, topics)) === 0, 180_000),
    results: async () => {
      const byOrder = new Map<string, ReservationResult[]>();
      const seen = new Set<string>();
      await readTopicToEnd(kafka, `${prefix}reservation-results`, async (m) => {
        const r = await codec.decode('reservation-results', m.value);
        if (seen.has(r.resultId)) return; // re-published after a crash: same deterministic id
        seen.add(r.resultId);
        byOrder.set(r.orderId, [...(byOrder.get(r.orderId) ?? []), r]);
      });
      return byOrder;
    },
    alerts: async () => {
      const out: Alert[] = [];
      await readTopicToEnd(kafka, `${prefix}alerts`, async (m) => {
        out.push(await codec.decode('alerts', m.value));
      });
      return out;
    },
    ops: () => ({ kafka, codec, store, prefix, groupId: group }),
    close: async () => {
      await producer.disconnect().catch(() => undefined);
      await redis.quit().catch(() => undefined);
    },
  };
}
