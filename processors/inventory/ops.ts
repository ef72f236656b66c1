import type { Kafka } from 'kafkajs';
import { Cluster, type Redis } from 'ioredis';
import type { RedisClient } from '../../runtime/lua-scripts.js';
import type { AvroCodec } from '../../schemas/codec.js';
import { readTopicToEnd } from '../../runtime/topic-reader.js';
import { topicName } from '../../topics/definitions.js';
import { readInventoryHistory, type InventoryHistory } from './history.js';
import { replayHolds } from './hold-replay.js';
import { VELOCITY_UNIT } from './forecast.js';
import {
  completeSkuRecord,
  formatSkuRecord,
  holdingCostUnits,
  orderCostUnits,
  SKU_FLAGS,
  SKU_RECORD_FIELDS,
} from './sku-record.js';
import { orderLinesText, warehousePartsText, warehouseStock } from './warehouses.js';
import { skuStateFromRecord, type ForecastView, type StockStore } from './store.js';

/** Operator commands over the stock state: show, rebuild, reconcile. */

export interface OpsContext {
  kafka: Kafka;
  codec: AvroCodec;
  store: StockStore;
  prefix: string;
  groupId: string;
}

function levelOf(onHand: number, reserved: number, threshold: number): number {
  const available = onHand - reserved;
  if (available < 0) return 3;
  if (available === 0) return 2;
  return available <= threshold ? 1 : 0;
}

// SCAN walks one server: on a Cluster every master is walked
async function scanKeys(redis: RedisClient, pattern: string, onKeys: (keys: string[]) => Promise<void>) {
  const servers: Redis[] = redis instanceof Cluster ? redis.nodes('master') : [redis];
  for (const server of servers) {
    let cursor = '0';
    do {
      const [next, keys] = await server.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      if (keys.length) await onKeys(keys);
      cursor = next;
    } while (cursor !== '0');
  }
}

/** Every SKU record of every shard, by SKU, and the per-warehouse parts of those that have them. */
async function readSkuRecords(
  store: StockStore,
): Promise<{ records: Map<string, Buffer>; parts: Map<string, string> }> {
  const records = new Map<string, Buffer>();
  const parts = new Map<string, string>();
  for (const shardKeys of store.shards.keys) {
    await scanKeys(store.redis, shardKeys.skuBucketPattern(), async (buckets) => {
      for (const bucket of buckets) {
        // as bytes: records are packed (sku-record.ts)
        for (const [field, raw] of Object.entries(await store.redis.hgetallBuffer(bucket))) {
          // '@<sku>': the SKU's stock per warehouse (no SKU starts with '@')
          if (field.startsWith('@')) parts.set(field.slice(1), raw.toString());
          else records.set(field, raw);
        }
      }
    });
  }
  return { records, parts };
}

/** The minute an event id was applied, as the stock script stores it. */
function appliedMinute(ms: number): number {
  return Math.floor(ms / 60_000);
}

/**
 * Moves SKU records kept by earlier versions (a hash per SKU, `{tag}:s:<sku>`) and stock event
 * ids (a key each, `{tag}:e:<id>`) into the bucket layout and records the new layout. Run with every stock processor stopped: they refuse to
 * start on the old layout, and a running old one would write where nothing reads any more.
 * Safe to run again after an interruption: a SKU is written to its bucket before its old key
 * is deleted, and the layout is recorded last.
 */
export async function migrateLayout(store: StockStore): Promise<{ skus: number; eventIds: number }> {
  let skus = 0;
  for (const shardKeys of store.shards.keys) {
    const oldPrefix = `{${shardKeys.tag}}:s:`;
    await scanKeys(store.redis, `${oldPrefix}*`, async (keys) => {
      for (const key of keys) {
        if ((await store.redis.type(key)) !== 'hash') continue;
        const h = await store.redis.hgetall(key);
        const sku = key.slice(oldPrefix.length);
        // a field an earlier record lacks reads as the scripts read it: its default
        const record = completeSkuRecord(
          Object.fromEntries(
            SKU_RECORD_FIELDS.filter((f) => h[f] !== undefined).map((f) => [f, Number(h[f])]),
          ),
        );
        await store.redis.hset(shardKeys.sku(sku), sku, formatSkuRecord(record));
        await store.redis.del(key);
        skus += 1;
      }
    });
  }
  // event ids remembered by a key each: into their bucket, with the minute they were applied
  // (what their TTL left tells)
  let eventIds = 0;
  for (const shardKeys of store.shards.keys) {
    const oldPrefix = `{${shardKeys.tag}}:e:`;
    await scanKeys(store.redis, shardKeys.legacyEventMarkerPattern(), async (keys) => {
      for (const key of keys) {
        if ((await store.redis.type(key)) !== 'string') continue;
        const leftMs = await store.redis.pttl(key);
        const id = key.slice(oldPrefix.length);
        const appliedAt = leftMs > 0 ? Date.now() - (store.eventIdTtl * 1000 - leftMs) : Date.now();
        const bucket = shardKeys.eventIdBucket(id);
        await store.redis.hset(bucket, id, appliedMinute(appliedAt));
        await store.redis.expire(bucket, store.eventIdTtl);
        await store.redis.del(key);
        eventIds += 1;
      }
    });
  }
  await store.recordLayout();
  return { skus, eventIds };
}

/** Every inventory key of every shard (for rebuild into an empty Redis). */
async function scanAllShards(store: StockStore, onKeys: (keys: string[]) => Promise<void>) {
  for (const keys of store.shards.keys) await scanKeys(store.redis, keys.allPattern(), onKeys);
}

async function committedOffsets(ctx: OpsContext, inputs: string[]): Promise<Map<string, number>> {
  const admin = ctx.kafka.admin();
  await admin.connect();
  try {
    const out = new Map<string, number>();
    const groups = await admin.fetchOffsets({ groupId: ctx.groupId, topics: inputs });
    for (const t of groups) {
      for (const p of t.partitions) {
        const o = Number(p.offset);
        if (o >= 0) out.set(`${t.topic}:${p.partition}`, o - 1);
      }
    }
    return out;
  } finally {
    await admin.disconnect();
  }
}

async function groupIsIdle(ctx: OpsContext): Promise<boolean> {
  const admin = ctx.kafka.admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([ctx.groupId]);
    return (groups[0]?.members.length ?? 0) === 0;
  } finally {
    await admin.disconnect();
  }
}

export interface RebuildReport {
  skus: number;
  orders: number;
  markers: number;
  watermarks: Record<string, number>;
}

/**
 * Rebuilds the inventory keys of an empty Redis from Kafka: SKU levels from the compacted
 * changelog, reference data from the catalogue, holds from the reservation results, the
 * applied-offset watermarks from the group's commits and the outputs' source headers (so that
 * nothing is applied twice when the processor resumes), and the stock event-id markers.
 * Refuses while the processor's group has live members or the Redis already holds state.
 */
export async function rebuild(ctx: OpsContext, options: { force?: boolean } = {}): Promise<RebuildReport> {
  const { store } = ctx;
  const redis = store.redis;
  if (!(await groupIsIdle(ctx))) {
    throw new Error(`consumer group ${ctx.groupId} has live members: stop the stock processors first`);
  }
  let existing = 0;
  await scanAllShards(store, async (keys) => {
    existing += keys.length;
  });
  if (existing > 0 && !options.force) {
    throw new Error(
      `Redis already holds ${existing} inventory keys; rebuild writes into an empty Redis (--force wipes them)`,
    );
  }
  // one key per command: on a Cluster the keys of one scan page may lie in several slots
  if (existing > 0)
    await scanAllShards(store, async (keys) => void (await Promise.all(keys.map((k) => redis.unlink(k)))));

  const history = await readInventoryHistory(ctx.kafka, ctx.codec, ctx.prefix);
  const stockTopic = topicName(ctx.prefix, 'stock');
  const ordersTopic = topicName(ctx.prefix, 'orders');
  const watermarks = await committedOffsets(ctx, [stockTopic, ordersTopic]);
  for (const [tp, o] of history.maxSourceOffset) watermarks.set(tp, Math.max(o, watermarks.get(tp) ?? -1));
  for (const key of history.deadLettered) {
    const i = key.lastIndexOf(':');
    const tp = key.slice(0, i);
    if (tp.startsWith(`${stockTopic}:`) || tp.startsWith(`${ordersTopic}:`)) {
      watermarks.set(tp, Math.max(Number(key.slice(i + 1)), watermarks.get(tp) ?? -1));
    }
  }

  // one pipeline per shard: a shard is one hash slot, so on a Cluster each goes to one node
  const shards = store.shards;
  const pipelines = shards.keys.map(() => redis.pipeline());
  const pipelineOf = (sku: string) => pipelines[shards.ofSku(sku)] as (typeof pipelines)[number];
  const skus = new Set([...history.catalogue.keys(), ...history.levels.keys()]);
  for (const sku of skus) {
    const c = history.catalogue.get(sku);
    const l = history.levels.get(sku);
    const on = l?.onHand ?? 0;
    const rs = l?.reserved ?? 0;
    const th = c?.lowStockThreshold ?? 0;
    // a SKU never stocked keeps level -1, as the scripts would have it
    const lv = l ? levelOf(on, rs, th) : -1;
    const parts = warehousePartsText(l?.warehouses ?? [], store.warehouses.defaultWarehouse);
    if (parts) pipelineOf(sku).hset(shards.keysOfSku(sku).sku(sku), `@${sku}`, parts);
    pipelineOf(sku).hset(
      shards.keysOfSku(sku).sku(sku),
      sku,
      formatSkuRecord(
        completeSkuRecord({
          on,
          rs,
          v: l?.version ?? 0,
          th,
          sf: c?.safetyStock ?? 0,
          cv: c?.version ?? 0,
          lv,
          ...(c?.leadTimeHours !== undefined ? { lt: c.leadTimeHours } : {}),
          ...(c?.orderCost !== undefined ? { oc: orderCostUnits(c.orderCost) } : {}),
          ...(c?.holdingCostPerUnitDay !== undefined
            ? { hc: holdingCostUnits(c.holdingCostPerUnitDay) }
            : {}),
          // the velocities, the standing prediction and the last suggestion as the changelog
          // last published them: nothing is alerted or suggested again
          rv: Math.round((l?.reservedPerHour ?? 0) * VELOCITY_UNIT),
          sv: Math.round((l?.soldPerHour ?? 0) * VELOCITY_UNIT),
          vt: Math.floor((l?.velocityAt ?? 0) / 1000),
          fc:
            (parts ? SKU_FLAGS.SPLIT : 0) |
            (l?.stockoutPredicted ? SKU_FLAGS.PREDICTED : 0) |
            (l?.reorderNow ? SKU_FLAGS.REORDER_DUE : 0),
          ro: l?.reorderPoint ?? 0,
          rq: l?.suggestedQuantity ?? 0,
        }),
      ),
    );
  }
  const ordersPartitionApplied = (partition: number, offset: number) =>
    offset <= (watermarks.get(`${ordersTopic}:${partition}`) ?? -1) &&
    !history.deadLettered.has(`${ordersTopic}:${partition}:${offset}`);
  const replay = replayHolds(history, (e) => ordersPartitionApplied(e.partition, e.offset));
  let orders = 0;
  for (const [orderId, o] of replay.orders) {
    for (const [shard, part] of shards.group(o.lines)) {
      const keys = shards.keys[shard] as (typeof shards.keys)[number];
      const record = `${o.state}|${orderLinesText(part, o.allocations, store.warehouses.defaultWarehouse)}`;
      const pipeline = pipelines[shard] as (typeof pipelines)[number];
      if (o.state === 'R') {
        pipeline.set(keys.order(orderId), record);
        // the hold's age restarts now: the abandoned-hold sweeper cannot know when it was made
        pipeline.zadd(keys.holds(), Date.now(), orderId);
      } else pipeline.set(keys.order(orderId), record, 'EX', store.finalOrderTtl);
    }
    orders += 1;
  }
  let markers = 0;
  for (const { partition, offset, event } of history.stockEvents) {
    if (offset <= (watermarks.get(`${stockTopic}:${partition}`) ?? -1)) {
      // when it was applied is not in the history: remembered a whole window from now
      const bucket = shards.keysOfSku(event.sku).eventIdBucket(event.eventId);
      pipelineOf(event.sku).hset(bucket, event.eventId, appliedMinute(Date.now()));
      pipelineOf(event.sku).expire(bucket, store.eventIdTtl);
      markers += 1;
    }
  }
  for (const [tp, o] of watermarks) {
    const i = tp.lastIndexOf(':');
    shards.keys.forEach((keys, shard) =>
      (pipelines[shard] as (typeof pipelines)[number]).set(
        keys.watermark(tp.slice(0, i), Number(tp.slice(i + 1))),
        String(o),
      ),
    );
  }
  for (const pipeline of pipelines) {
    for (const [err] of (await pipeline.exec()) ?? []) if (err) throw err;
  }
  await store.checkLayout();
  return { skus: skus.size, orders, markers, watermarks: Object.fromEntries(watermarks) };
}

export interface Difference {
  subject: string;
  field: string;
  expected: string;
  actual: string;
}

/**
 * Compares Redis with what Kafka's history implies, and lists every difference:
 * - reference data: the latest catalogue version of each SKU;
 * - holds: reserved per SKU = lines of orders whose last result is RESERVED; each order's
 *   state in Redis = its last result; every applied PLACE has exactly one reserve/reject result;
 * - on hand: for SKUs never cycle-counted, receipts + adjustments (each event id once, none that
 *   was dead-lettered or is not applied yet) - committed lines. A count sets an absolute figure
 *   whose place among the commits only the processor saw: counted SKUs are checked against
 *   their latest changelog record instead.
 */
export async function reconcile(ctx: OpsContext, history?: InventoryHistory): Promise<Difference[]> {
  const h = history ?? (await readInventoryHistory(ctx.kafka, ctx.codec, ctx.prefix));
  const { store } = ctx;
  const diffs: Difference[] = [];
  const diff = (subject: string, field: string, expected: unknown, actual: unknown) => {
    if (String(expected) !== String(actual)) {
      diffs.push({ subject, field, expected: String(expected), actual: String(actual) });
    }
  };
  const stockTopic = topicName(ctx.prefix, 'stock');
  const ordersTopic = topicName(ctx.prefix, 'orders');

  const expectedOn = new Map<string, number>();
  const expectedRs = new Map<string, number>();
  const counted = new Set<string>();
  const seenIds = new Set<string>();
  // per shard and partition: a stock event is applied on its SKU's shard
  const wm = new Map<string, number>();
  for (const { partition, offset, event } of h.stockEvents) {
    const shard = store.shards.ofSku(event.sku);
    const at = `${shard}:${partition}`;
    if (!wm.has(at)) wm.set(at, await store.watermark(stockTopic, partition, shard));
    if (offset > (wm.get(at) as number)) continue; // not applied yet
    if (h.deadLettered.has(`${stockTopic}:${partition}:${offset}`)) continue;
    if (seenIds.has(event.eventId)) continue;
    seenIds.add(event.eventId);
    if (event.type === 'COUNTED') counted.add(event.sku);
    else expectedOn.set(event.sku, (expectedOn.get(event.sku) ?? 0) + event.quantity);
  }

  const orderWm = new Map<number, number>();
  for (const events of h.orderEvents.values()) {
    for (const { partition } of events) {
      if (!orderWm.has(partition))
        orderWm.set(partition, (await store.appliedPosition(ordersTopic, partition)).lowest);
    }
  }
  const replay = replayHolds(
    h,
    (e) =>
      e.offset <= (orderWm.get(e.partition) ?? -1) &&
      !h.deadLettered.has(`${ordersTopic}:${e.partition}:${e.offset}`),
  );
  for (const [sku, delta] of replay.onHandDelta) expectedOn.set(sku, (expectedOn.get(sku) ?? 0) + delta);
  const stateName = { R: 'RESERVED', X: 'REJECTED', C: 'COMMITTED', S: 'SHIPPED', L: 'RELEASED' } as const;
  // reserved per SKU and warehouse: what the holds' results said they hold where
  const expectedHeld = new Map<string, number>();
  const defaultWarehouse = store.warehouses.defaultWarehouse;
  for (const [orderId, o] of replay.orders) {
    if (o.state === 'R') {
      for (const l of o.lines) {
        expectedRs.set(l.sku, (expectedRs.get(l.sku) ?? 0) + l.quantity);
        const held = o.allocations.filter((a) => a.sku === l.sku);
        for (const a of held.length ? held : [{ warehouseId: defaultWarehouse, quantity: l.quantity }]) {
          const k = `${l.sku} ${a.warehouseId}`;
          expectedHeld.set(k, (expectedHeld.get(k) ?? 0) + a.quantity);
        }
      }
    }
    const order = await store.getOrder(orderId);
    diff(`order ${orderId}`, 'state', stateName[o.state], order?.state ?? '(missing)');
  }
  for (const [orderId, results] of h.results) {
    // one decision per PLACE, or a correction that names the one it replaces
    const decisions = results.filter(
      (r) => (r.outcome === 'RESERVED' || r.outcome === 'REJECTED') && !r.corrects,
    );
    if (decisions.length !== 1) diff(`order ${orderId}`, 'reserve/reject results', 1, decisions.length);
  }

  // an order spanning shards is held tentatively only within one batch: one left means a
  // batch died between its calls and its redelivery has not settled it yet
  for (const shardKeys of store.shards.keys) {
    await scanKeys(store.redis, shardKeys.order('*'), async (keys) => {
      const values = await Promise.all(keys.map((k) => store.redis.get(k)));
      values.forEach((v, i) => {
        if (v?.startsWith('T|')) diff(`order key ${keys[i]}`, 'hold', 'confirmed or aborted', 'tentative');
      });
    });
  }

  const { records, parts } = await readSkuRecords(store);
  const skus = new Set<string>([
    ...h.catalogue.keys(),
    ...expectedOn.keys(),
    ...expectedRs.keys(),
    ...records.keys(),
  ]);
  for (const sku of [...skus].sort()) {
    const raw = records.get(sku);
    const actual = raw === undefined ? null : skuStateFromRecord(sku, raw);
    const c = h.catalogue.get(sku);
    const subject = `sku ${sku}`;
    if (!actual) {
      diff(subject, 'exists', true, false);
      continue;
    }
    diff(subject, 'catalogueVersion', c?.version ?? null, actual.catalogueVersion);
    diff(subject, 'lowStockThreshold', c?.lowStockThreshold ?? 0, actual.lowStockThreshold);
    diff(subject, 'safetyStock', c?.safetyStock ?? 0, actual.safetyStock);
    diff(subject, 'reserved', expectedRs.get(sku) ?? 0, actual.reserved);
    const warehouses = warehouseStock(actual.onHand, actual.reserved, parts.get(sku) ?? '', defaultWarehouse);
    diff(
      subject,
      'on hand over its warehouses',
      actual.onHand,
      warehouses.reduce((n, w) => n + w.onHand, 0),
    );
    diff(
      subject,
      'reserved over its warehouses',
      actual.reserved,
      warehouses.reduce((n, w) => n + w.reserved, 0),
    );
    for (const w of warehouses) {
      diff(
        subject,
        `reserved in ${w.warehouseId}`,
        expectedHeld.get(`${sku} ${w.warehouseId}`) ?? 0,
        w.reserved,
      );
    }
    if (counted.has(sku)) {
      const level = h.levels.get(sku);
      diff(subject, 'onHand (vs changelog, cycle-counted)', level?.onHand ?? 0, actual.onHand);
    } else {
      diff(subject, 'onHand', expectedOn.get(sku) ?? 0, actual.onHand);
    }
  }
  return diffs;
}

export interface SkuReport {
  state: ReturnType<typeof skuStateFromRecord> | null;
  /** as of now: velocities decayed to the time of the report */
  forecast: ForecastView | null;
  history: { version: number; onHand: number; reserved: number; sourceEventId: string; at: string }[];
  stockEvents: { type: string; quantity: number; eventId: string; at: string; reason: string | null }[];
}

/** A SKU's current state and its recent history from the changelog and the stock topic. */
export async function showSku(ctx: OpsContext, sku: string, limit = 20): Promise<SkuReport> {
  const state = await ctx.store.getSku(sku);
  const forecast = await ctx.store.forecastView(sku);
  const report: SkuReport = { state, forecast, history: [], stockEvents: [] };
  await readTopicToEnd(ctx.kafka, topicName(ctx.prefix, 'stock-levels'), async (m) => {
    if (m.key?.toString() !== sku) return;
    const l = await ctx.codec.decode('stock-levels', m.value).catch(() => null);
    if (!l) return;
    report.history.push({
      version: l.version,
      onHand: l.onHand,
      reserved: l.reserved,
      sourceEventId: l.sourceEventId,
      at: new Date(l.updatedAt).toISOString(),
    });
  });
  await readTopicToEnd(ctx.kafka, topicName(ctx.prefix, 'stock'), async (m) => {
    if (m.key?.toString() !== sku) return;
    const e = await ctx.codec.decode('stock', m.value).catch(() => null);
    if (!e) return;
    report.stockEvents.push({
      type: e.type,
      quantity: e.quantity,
      eventId: e.eventId,
      at: new Date(e.occurredAt).toISOString(),
      reason: e.reason,
    });
  });
  report.history = report.history.slice(-limit);
  report.stockEvents = report.stockEvents.slice(-limit);
  return report;
}
