/**
 * The benchmark's input stream and a rate-limited producer for it, shared by the benchmark
 * and its load-producer process.
 */
import type { Kafka, Message } from 'kafkajs';
import { createProducer } from '../runtime/kafka.js';
import type { AvroCodec } from '../schemas/codec.js';
import { orderEvent } from '../schemas/factories.js';
import type { OrderEvent, StockEvent } from '../schemas/types.js';
import { seededRandom } from '../scripts/demo-traffic.js';

export const SKUS = Number(process.env.BENCH_SKUS ?? 5_000);

export function sku(i: number) {
  return `B-${String(i).padStart(7, '0')}`;
}

/** A mixed stream: receipts and adjustments, orders placed, paid and cancelled. */
export function* workload(
  count: number,
  seed: number,
): Generator<{ topic: 'stock' | 'orders'; key: string; value: StockEvent | OrderEvent }> {
  const rnd = seededRandom(seed);
  const open: string[] = [];
  let n = 0;
  for (let i = 0; i < count; i++) {
    const r = rnd();
    const now = Date.now();
    if (r < 0.2) {
      const s = sku(Math.floor(rnd() * SKUS));
      yield {
        topic: 'stock',
        key: s,
        value: {
          eventId: `${seed}-s-${i}`,
          sku: s,
          type: rnd() < 0.8 ? 'RECEIVED' : 'ADJUSTED',
          quantity: rnd() < 0.8 ? 20 : -1,
          occurredAt: now,
          reason: null,
          warehouseId: null,
        },
      };
      continue;
    }
    if (r < 0.65 || open.length === 0) {
      const id = `${seed}-o-${n++}`;
      const lines = new Map<string, number>();
      const count = 1 + Math.floor(rnd() * 3);
      while (lines.size < count) lines.set(sku(Math.floor(rnd() * SKUS)), 1 + Math.floor(rnd() * 2));
      open.push(id);
      yield {
        topic: 'orders',
        key: id,
        value: orderEvent({
          eventId: `${id}-p`,
          orderId: id,
          type: 'PLACED',
          occurredAt: now,
          lines: [...lines].map(([s, q]) => ({ sku: s, quantity: q, unitPriceMinor: 999 })),
        }),
      };
    } else {
      const id = open.splice(Math.floor(rnd() * open.length), 1)[0] as string;
      const type = rnd() < 0.75 ? 'PAID' : 'CANCELLED';
      yield {
        topic: 'orders',
        key: id,
        value: orderEvent({ eventId: `${id}-${type}`, orderId: id, type, occurredAt: now }),
      };
    }
  }
}

export async function produce(
  kafka: Kafka,
  codec: AvroCodec,
  topicsPrefix: string,
  count: number,
  seed: number,
  rate = 0,
): Promise<number> {
  return produceTo(kafka, [{ prefix: topicsPrefix, codec }], count, seed, rate);
}

/** Where produceTo writes: a topic prefix and the codec of the release that reads it. */
export interface ProduceTarget {
  prefix: string;
  codec: Pick<AvroCodec, 'writerId' | 'encodeWithId'>;
}

/**
 * The stream to every target at once: each event, encoded by each target's codec, goes to each
 * target's topic in the same request with the same timestamp, so that two releases reading their
 * own copies see the same input at the same moments. `rate` is events per second per target.
 */
export async function produceTo(
  kafka: Kafka,
  targets: ProduceTarget[],
  count: number,
  seed: number,
  rate = 0,
): Promise<number> {
  const producer = createProducer(kafka);
  await producer.connect();
  const ids = await Promise.all(
    targets.map(async (t) => ({
      stock: await t.codec.writerId('stock'),
      orders: await t.codec.writerId('orders'),
    })),
  );
  const tickMs = 10;
  const perTick = rate > 0 ? Math.max(1, Math.round((rate * tickMs) / 1000)) : 2000;
  let batch: { topic: string; messages: Message[] }[] = [];
  let inBatch = 0;
  let sent = 0;
  const started = Date.now();
  const flush = async () => {
    if (inBatch === 0) return;
    await producer.sendBatch({ topicMessages: batch, acks: -1 });
    sent += inBatch;
    batch = [];
    inBatch = 0;
    if (rate > 0) {
      const due = started + (sent / rate) * 1000;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  };
  for (const e of workload(count, seed)) {
    const timestamp = String(Date.now());
    targets.forEach((target, t) => {
      const value =
        e.topic === 'stock'
          ? target.codec.encodeWithId('stock', ids[t]!.stock, e.value as StockEvent)
          : target.codec.encodeWithId('orders', ids[t]!.orders, e.value as OrderEvent);
      const topic = target.prefix + e.topic;
      let entry = batch.find((b) => b.topic === topic);
      if (!entry) batch.push((entry = { topic, messages: [] }));
      entry.messages.push({ key: e.key, value, timestamp });
    });
    if (++inBatch >= perTick) await flush();
  }
  await flush();
  await producer.disconnect();
  return sent;
}
