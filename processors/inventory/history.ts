import type { Kafka } from 'kafkajs';
import { DLQ_HEADERS } from '../../runtime/dead-letter.js';
import { headerString, readTopicToEnd } from '../../runtime/topic-reader.js';
import { DecodeError, type AvroCodec } from '../../schemas/codec.js';
import type {
  OrderEvent,
  ProductUpdate,
  ReservationResult,
  StockEvent,
  StockLevel,
} from '../../schemas/types.js';
import { topicName } from '../../topics/definitions.js';

/**
 * Everything Kafka knows about the inventory, read back for rebuild and reconciliation: the
 * inputs (stock events, catalogue), the processor's decisions (reservation results, stock-level
 * changelog) and what was dead-lettered.
 */
export interface InventoryHistory {
  catalogue: Map<string, ProductUpdate>;
  /** Stock events in offset order per partition, with where they were read. */
  stockEvents: { partition: number; offset: number; event: StockEvent }[];
  /** Order events per order, in offset order (an order's events share one partition). */
  orderEvents: Map<string, { partition: number; offset: number; event: OrderEvent }[]>;
  /** Latest changelog record per SKU (highest version). */
  levels: Map<string, StockLevel>;
  /** Results per order in publication order, de-duplicated by resultId. */
  results: Map<string, ReservationResult[]>;
  /** `topic:partition:offset` of every dead-lettered input message. */
  deadLettered: Set<string>;
  /** Highest input offset each output names in its `src` header, per `topic:partition`. */
  maxSourceOffset: Map<string, number>;
}

export async function readInventoryHistory(
  kafka: Kafka,
  codec: AvroCodec,
  prefix: string,
): Promise<InventoryHistory> {
  const h: InventoryHistory = {
    catalogue: new Map(),
    stockEvents: [],
    orderEvents: new Map(),
    levels: new Map(),
    results: new Map(),
    deadLettered: new Set(),
    maxSourceOffset: new Map(),
  };
  const noteSource = (headers: Parameters<typeof headerString>[0]) => {
    const src = headerString(headers, 'src');
    if (!src) return;
    const i = src.lastIndexOf(':');
    const tp = src.slice(0, i);
    const offset = Number(src.slice(i + 1));
    if (offset > (h.maxSourceOffset.get(tp) ?? -1)) h.maxSourceOffset.set(tp, offset);
  };
  const tryDecode = async <T>(fn: () => Promise<T>): Promise<T | null> => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof DecodeError) return null;
      throw err;
    }
  };

  await readTopicToEnd(kafka, topicName(prefix, 'catalogue'), async (m) => {
    const u = await tryDecode(() => codec.decode('catalogue', m.value));
    if (!u) return;
    const prev = h.catalogue.get(u.sku);
    if (!prev || prev.version < u.version) h.catalogue.set(u.sku, u);
  });
  await readTopicToEnd(kafka, topicName(prefix, 'stock'), async (m) => {
    const e = await tryDecode(() => codec.decode('stock', m.value));
    if (e) h.stockEvents.push({ partition: m.partition, offset: m.offset, event: e });
  });
  await readTopicToEnd(kafka, topicName(prefix, 'orders'), async (m) => {
    const e = await tryDecode(() => codec.decode('orders', m.value));
    if (!e) return;
    const list = h.orderEvents.get(e.orderId) ?? [];
    list.push({ partition: m.partition, offset: m.offset, event: e });
    h.orderEvents.set(e.orderId, list);
  });
  await readTopicToEnd(kafka, topicName(prefix, 'stock-levels'), async (m) => {
    noteSource(m.headers);
    const l = await tryDecode(() => codec.decode('stock-levels', m.value));
    if (!l) return;
    const prev = h.levels.get(l.sku);
    if (!prev || prev.version <= l.version) h.levels.set(l.sku, l);
  });
  const seenResults = new Set<string>();
  await readTopicToEnd(kafka, topicName(prefix, 'reservation-results'), async (m) => {
    noteSource(m.headers);
    const r = await tryDecode(() => codec.decode('reservation-results', m.value));
    if (!r || seenResults.has(r.resultId)) return;
    seenResults.add(r.resultId);
    const list = h.results.get(r.orderId) ?? [];
    list.push(r);
    h.results.set(r.orderId, list);
  });
  for (const dlq of ['stock.dlq', 'orders.dlq'] as const) {
    await readTopicToEnd(kafka, topicName(prefix, dlq), (m) => {
      const topic = headerString(m.headers, DLQ_HEADERS.topic);
      const partition = headerString(m.headers, DLQ_HEADERS.partition);
      const offset = headerString(m.headers, DLQ_HEADERS.offset);
      if (!topic || !partition || !offset) return;
      h.deadLettered.add(`${topic}:${partition}:${offset}`);
      // a chunk's dead letters are published with its outputs, after the chunk was applied
      const tp = `${topic}:${partition}`;
      if (Number(offset) > (h.maxSourceOffset.get(tp) ?? -1)) h.maxSourceOffset.set(tp, Number(offset));
    });
  }
  return h;
}

/** The reservation decision in force for an order: the last one published (a correction wins). */
export function decisionOf(results: readonly ReservationResult[]): ReservationResult | undefined {
  return results.filter((r) => r.outcome === 'RESERVED' || r.outcome === 'REJECTED').at(-1);
}
