import { fileURLToPath } from 'node:url';
import { throwIfPositionsWentBack } from '../../runtime/chunk-positions.js';
import { callScriptDurably, type DurabilityPolicy } from '../../runtime/durability.js';
import { PermanentStartError } from '../../runtime/service-main.js';
import { callScript, defineScripts, type RedisClient, ScriptKeys } from '../../runtime/lua-scripts.js';
import type { AppliedPosition } from '../../runtime/processor-runner.js';
import type { CatalogueCommand, StockCommand } from './commands.js';
import type { InventoryKeys } from './keys.js';
import { luaOrderRules } from './order-rules.js';
import { DEFAULT_FORECAST, forecastArgument, VELOCITY_UNIT, type ForecastSettings } from './forecast.js';
import type { WarehouseStock } from '../../schemas/types.js';
import { DEFAULT_WAREHOUSES, warehouseStock, type WarehouseSettings } from './warehouses.js';
import {
  CATALOGUE_DEFAULTS,
  holdingCostUnits,
  luaSkuRecord,
  orderCostUnits,
  parseSkuRecord,
  printableSkuRecord,
  SKU_FLAGS,
  STOCK_LAYOUT,
} from './sku-record.js';
import {
  list,
  newestLevels,
  toEventResult,
  levelsFromReply,
  type EventResult,
  type LevelRecord,
  type RawResult,
  type ScriptLine,
} from './script-results.js';
import {
  finishRound,
  mergeShardReplies,
  type MergedPart,
  type PartResults,
  type ShardReply,
} from './shard-merge.js';
import { planRounds, type PlannedSegment, type Round } from './shard-plan.js';
import { StockShards } from './shards.js';
import { ChangelogStore } from './changelog-store.js';
import { HeldOrders } from './held-orders.js';
import { applyScriptCall, type ShardItem, type ShardSegment } from './stock-script-args.js';

export type { EventResult, ScriptLine, ScriptOutput } from './script-results.js';
export type { ClaimedLevel, PendingCatalogueAlert } from './changelog-store.js';
export { parseLines } from './script-results.js';

const luaDir = fileURLToPath(new URL('./lua/', import.meta.url));
const SCRIPTS = [
  'apply-stock-batch',
  'apply-catalogue',
  'claim-stock-levels',
  'ack-stock-levels',
  'claim-pending-alerts',
  'claim-abandoned-holds',
  'forecast-view',
  'sweep-predictions',
] as const;

const DAY_SECONDS = 24 * 3600;

export interface BatchApplyResult {
  /** Results of events applied by this call (only events with outputs or a non-ok status). */
  applied: EventResult[];
  /** Stored results of redelivered events (offset <= watermark), to publish again. */
  replayed: EventResult[];
  /** The chunk's last offset (its position), or -1 for an empty chunk without one. */
  lastOffset: number;
  /** Events that changed state now (status ok). */
  appliedCount: number;
  /** Events at or below the watermark: applied before, not again. */
  redeliveredCount: number;
  /** The state of every SKU this chunk changed: its changelog records, published with its outputs. */
  levels: LevelRecord[];
}

export interface BatchSegment {
  topic: string;
  partition: number;
  items: readonly { offset: number; command: StockCommand }[];
  /** Highest offset of this partition whose outputs Kafka acknowledged: trims its outbox. */
  trimUpTo: number;
  /** The chunk's last offset: every shard's watermark of the partition moves there (default: last item). */
  upTo?: number;
  /** The caller's last applied offset of the partition: a shard whose watermark is below it refuses the call. */
  expectedApplied?: number;
}

export interface SkuState {
  sku: string;
  onHand: number;
  reserved: number;
  available: number;
  version: number;
  lowStockThreshold: number;
  safetyStock: number;
  catalogueVersion: number | null;
  level: number;
  /** on hand and reserved per warehouse (they add up to the totals) */
  warehouses: WarehouseStock[];
  leadTimeHours: number;
  orderCost: number;
  holdingCostPerUnitDay: number;
  /** units per hour as of velocityAt (ms of event time; 0 = no sales yet), not decayed to now */
  reservedPerHour: number;
  soldPerHour: number;
  velocityAt: number;
  stockoutPredicted: boolean;
  reorderDue: boolean;
  /** the replenishment suggestion last published */
  reorderPoint: number;
  reorderQuantity: number;
}

/** What `forecast-view` reports: units per hour, hours, ms. */
export interface ForecastView {
  reserved: number;
  sold: number;
  demand: number;
  cover?: number;
  horizon: number;
  predictedAt?: number;
  reorderPoint: number;
  quantity: number;
  due: boolean;
}

export type HoldStateName = 'RESERVED' | 'REJECTED' | 'RELEASED' | 'COMMITTED' | 'SHIPPED';

export interface OrderHold {
  orderId: string;
  state: HoldStateName;
  lines: ScriptLine[];
}

const ORDER_STATES: Record<string, HoldStateName> = {
  R: 'RESERVED',
  T: 'RESERVED',
  X: 'REJECTED',
  L: 'RELEASED',
  C: 'COMMITTED',
  S: 'SHIPPED',
};

export interface StockStoreOptions {
  keyTag?: string;
  /** How many hash tags the SKUs are spread over (see shards.ts); part of the data's layout. */
  shards?: number;
  /** How long a stock event id is remembered: the window in which re-sends and redrives are caught. */
  eventIdTtlSeconds?: number;
  /** How long a final order record (released, committed, shipped, rejected) is kept. */
  finalOrderTtlSeconds?: number;
  /** When a script call's writes count as safe (runtime/durability.ts). */
  durability?: DurabilityPolicy;
  /** A profiling build of the scripts (benchmarks on a private Redis only): see LuaSourceOptions. */
  luaSectionProfile?: boolean;
  /** Velocity half-life and stock-out warning margin (forecast.ts). */
  forecast?: ForecastSettings;
  /** The default warehouse and the order orders are served in (warehouses.ts). */
  warehouses?: WarehouseSettings;
}

/** A segment's items for every shard, before callShards splits them into one call per shard. */
interface ShardCallSegment {
  topic: string;
  partition: number;
  trimUpTo: number;
  settle: boolean;
  items: { shard: number; item: ShardItem }[];
  /** set in a segment's last round: every shard gets a call and its watermark moves here */
  upTo: number | null;
  expectedApplied?: number;
}

/**
 * The authoritative stock state. Every change goes through the Lua scripts; this class only
 * prepares their keys and arguments, spreads a batch over the shards (see shards.ts and
 * shard-plan.ts) and reads state for operators and tests.
 */
export class StockStore {
  readonly shards: StockShards;
  readonly eventIdTtl: number;
  readonly finalOrderTtl: number;
  readonly durability: DurabilityPolicy;
  readonly forecast: ForecastSettings;
  readonly warehouses: WarehouseSettings;
  /** levels owed to the changelog and queued catalogue alerts */
  readonly changelog: ChangelogStore;
  private readonly held: HeldOrders;

  constructor(
    readonly redis: RedisClient,
    options: StockStoreOptions = {},
  ) {
    this.shards = new StockShards(options.keyTag ?? 'inv', options.shards ?? 1);
    this.eventIdTtl = options.eventIdTtlSeconds ?? 31 * DAY_SECONDS;
    this.finalOrderTtl = options.finalOrderTtlSeconds ?? 31 * DAY_SECONDS;
    this.durability = options.durability ?? { kind: 'none' };
    this.forecast = options.forecast ?? DEFAULT_FORECAST;
    this.warehouses = options.warehouses ?? DEFAULT_WAREHOUSES;
    defineScripts(
      redis,
      luaDir,
      SCRIPTS,
      { 'order-rules': luaOrderRules(), 'sku-record': luaSkuRecord() },
      { sectionProfile: options.luaSectionProfile ?? false },
    );
    this.changelog = new ChangelogStore(redis, this.shards, this.durability);
    this.held = new HeldOrders(redis, this.shards);
  }

  /** One partition's chunk: see applyBatches. */
  async applyBatch(
    topic: string,
    partition: number,
    items: readonly { offset: number; command: StockCommand }[],
    trimUpTo: number,
  ): Promise<BatchApplyResult> {
    const [result] = await this.applyBatches([{ topic, partition, items, trimUpTo }]);
    return result as BatchApplyResult;
  }

  /**
   * Applies chunks of several input partitions (at most one chunk per partition), each in
   * offset order. With one shard that is one script call. With several, each round of the plan
   * is one call per shard involved (in parallel); the tentative holds of orders spanning shards
   * are then settled (all confirmed when every shard reserved its lines, else all aborted) at
   * the head of the next round's calls, or in calls of their own after the last round. A crash
   * between the calls is repaired by the redelivery: every shard's call is idempotent, and the
   * settle decision is taken again from the stored results. In a chunk's last round every
   * shard's watermark of its partition moves to the chunk's last offset, so the lowest of them
   * is where the partition resumes.
   */
  async applyBatches(segments: readonly BatchSegment[]): Promise<BatchApplyResult[]> {
    const seen = new Set<string>();
    for (const seg of segments) {
      const tp = `${seg.topic}:${seg.partition}`;
      if (seen.has(tp)) throw new Error(`two chunks of ${tp} in one call`);
      seen.add(tp);
    }
    const held = await this.held.partsOf(segments);
    const rounds = planRounds(segments, this.shards, held);
    // a chunk with nothing to apply (only dead letters) still moves its position
    segments.forEach((seg, segment) => {
      if (seg.items.length > 0 || upToOf(seg) < 0) return;
      if (rounds.length === 0) rounds.push([]);
      (rounds[0] as Round).push({ segment, events: [] });
    });
    const lastRound = new Map<number, number>();
    rounds.forEach((round, r) => round.forEach((part) => lastRound.set(part.segment, r)));
    const totals: PartResults[] = segments.map(() => ({
      applied: [],
      replayed: [],
      ok: 0,
      redelivered: 0,
      levels: [],
    }));
    const add = (round: Round, results: PartResults[]) =>
      results.forEach((r, i) => {
        const t = totals[(round[i] as PlannedSegment).segment] as PartResults;
        t.applied.push(...r.applied);
        t.replayed.push(...r.replayed);
        t.ok += r.ok;
        t.redelivered += r.redelivered;
        t.levels.push(...r.levels);
      });
    // A round's settling rides in the next round's calls, ahead of its events (a script call
    // runs its segments in order): one call per shard and round instead of two.
    let previous: { round: Round; merged: MergedPart[]; settles: ShardCallSegment[] } | null = null;
    for (const [r, round] of rounds.entries()) {
      const carried: ShardCallSegment[] = previous?.settles ?? [];
      const phase1 = this.phase1Segments(segments, round, (segment) => lastRound.get(segment) === r);
      const replies = await this.callShards([...carried, ...phase1]);
      if (previous) add(previous.round, finishRound(previous.merged, replies.slice(0, carried.length)));
      const merged: MergedPart[] = round.map((part, i) =>
        mergeShardReplies(part.events, replies[carried.length + i] as ShardReply[]),
      );
      previous = { round, merged, settles: this.settleSegments(segments, round, merged) };
    }
    if (previous) {
      const { round, merged, settles } = previous;
      const replies = settles.some((s) => s.items.length) ? await this.callShards(settles) : [];
      add(round, finishRound(merged, replies));
    }
    return segments.map((seg, i) => {
      const t = totals[i] as PartResults;
      this.held.remember(t.applied);
      return {
        applied: t.applied,
        replayed: t.replayed,
        lastOffset: upToOf(seg),
        appliedCount: t.ok,
        redeliveredCount: t.redelivered,
        levels: newestLevels(t.levels),
      };
    });
  }

  /** Phase 1 of a round: every shard applies its part of every event. */
  private phase1Segments(
    segments: readonly BatchSegment[],
    round: Round,
    isLast: (segment: number) => boolean,
  ): ShardCallSegment[] {
    return round.map((part) => {
      const seg = segments[part.segment] as BatchSegment;
      return {
        topic: seg.topic,
        partition: seg.partition,
        trimUpTo: seg.trimUpTo,
        settle: false,
        upTo: isLast(part.segment) ? upToOf(seg) : null,
        ...(seg.expectedApplied !== undefined ? { expectedApplied: seg.expectedApplied } : {}),
        items: part.events.flatMap((e) =>
          [...e.parts].map(([shard, lines]) => ({
            shard,
            item: { offset: e.offset, command: e.command, lines, tentative: e.tentative },
          })),
        ),
      };
    });
  }

  /** Phase 2 of a round: settle the tentative holds of orders spanning shards. */
  private settleSegments(
    segments: readonly BatchSegment[],
    round: Round,
    merged: readonly MergedPart[],
  ): ShardCallSegment[] {
    return round.map((part, i) => {
      const seg = segments[part.segment] as BatchSegment;
      const items = (merged[i] as MergedPart).settle.flatMap(({ event, kind, shards }) =>
        shards.map((shard) => ({
          shard,
          item: {
            offset: event.offset,
            command: {
              kind,
              eventId: event.command.eventId,
              orderId: (event.command as { orderId: string }).orderId,
              // a confirmed hold counts as demand at its order's time
              ...(event.command.at !== undefined ? { at: event.command.at } : {}),
            },
            lines: event.parts.get(shard) ?? [],
            tentative: false,
          },
        })),
      );
      return { topic: seg.topic, partition: seg.partition, trimUpTo: -1, settle: true, upTo: null, items };
    });
  }

  /**
   * Runs one call per shard holding any of the segments' items (every shard, for a segment
   * whose position moves); returns, per segment, the replies of those shards (in shard order).
   */
  private async callShards(segments: readonly ShardCallSegment[]): Promise<ShardReply[][]> {
    const byShard = new Map<number, { index: number; seg: ShardSegment }[]>();
    segments.forEach((s, index) => {
      const perShard = new Map<number, ShardItem[]>();
      if (s.upTo !== null) for (let k = 0; k < this.shards.count; k++) perShard.set(k, []);
      for (const { shard, item } of s.items) {
        const list = perShard.get(shard);
        if (list) list.push(item);
        else perShard.set(shard, [item]);
      }
      for (const [shard, items] of perShard) {
        const seg: ShardSegment = {
          topic: s.topic,
          partition: s.partition,
          trimUpTo: s.trimUpTo,
          settle: s.settle,
          upTo: s.upTo ?? (items.length ? (items[items.length - 1] as ShardItem).offset : -1),
          items,
          ...(s.expectedApplied !== undefined ? { expectedApplied: s.expectedApplied } : {}),
        };
        const list = byShard.get(shard);
        if (list) list.push({ index, seg });
        else byShard.set(shard, [{ index, seg }]);
      }
    });
    const shardOrder = [...byShard.keys()].sort((a, b) => a - b);
    const replies = await Promise.all(
      shardOrder.map((shard) =>
        this.applyOnShard(
          shard,
          (byShard.get(shard) ?? []).map((x) => x.seg),
        ),
      ),
    );
    const out: ShardReply[][] = segments.map(() => []);
    shardOrder.forEach((shard, k) => {
      (byShard.get(shard) ?? []).forEach((x, j) => {
        (out[x.index] as ShardReply[]).push((replies[k] as ShardReply[])[j] as ShardReply);
      });
    });
    return out;
  }

  /**
   * One script call on one shard. Order events name the lines they expect the order to hold;
   * the script refuses keys it was not given (another instance changed the order meanwhile) and
   * the call is retried with the order records read again.
   */
  private async applyOnShard(shard: number, segments: readonly ShardSegment[]): Promise<ShardReply[]> {
    const keys = this.shards.keys[shard] as InventoryKeys;
    let current = segments;
    for (let attempt = 0; ; attempt++) {
      const call = applyScriptCall(
        keys,
        current,
        Date.now(),
        this.eventIdTtl,
        this.finalOrderTtl,
        this.forecast,
        this.warehouses,
      );
      // as bytes: the levels carry SKU records as written (packed)
      const reply = (await callScriptDurably(
        this.redis,
        this.durability,
        'apply-stock-batchBuffer',
        call.keys,
        call.args,
      )) as Buffer | [Buffer, ...Buffer[]];
      const [head, ...segLevels] = Array.isArray(reply) ? reply : [reply];
      const parsed = JSON.parse(head.toString()) as {
        stale: boolean;
        segs: { r: unknown; replay: unknown; ok: number; redelivered: number; rm: number }[];
      };
      throwIfPositionsWentBack(parsed, current);
      if (parsed.stale) {
        if (attempt >= 5) throw new Error('order lines kept changing under this call; giving up');
        current = await this.held.rereadHolds(shard, current);
        continue;
      }
      return parsed.segs.map((reply, i) => ({
        shard,
        redeliveredUpTo: reply.rm,
        applied: list<RawResult>(reply.r).map(toEventResult),
        replayed: list<RawResult>(reply.replay).map(toEventResult),
        ok: reply.ok,
        redelivered: reply.redelivered,
        levels: levelsFromReply(segLevels[i] ?? Buffer.alloc(0)),
      }));
    }
  }

  /**
   * Catalogue updates, last writer wins by version. The alerts an update causes are queued in
   * Redis by the same call (claimPendingAlerts publishes them), so returns only what was applied.
   */
  async applyCatalogue(
    updates: readonly CatalogueCommand[],
  ): Promise<{ sku: string; status: 'ok' | 'stale' }[]> {
    const byShard = this.shards.group(updates.map((u, index) => ({ ...u, index })));
    const out: { sku: string; status: 'ok' | 'stale' }[] = [];
    await Promise.all(
      [...byShard].map(async ([shard, group]) => {
        const keys = new ScriptKeys();
        const shardKeys = this.shards.keys[shard] as InventoryKeys;
        const pa = keys.ref(shardKeys.catalogueAlerts());
        const u = group.map((c) => ({
          s: keys.ref(shardKeys.sku(c.sku)),
          sku: c.sku,
          v: c.version,
          th: c.lowStockThreshold,
          sf: c.safetyStock,
          lt: c.leadTimeHours ?? CATALOGUE_DEFAULTS.leadTimeHours,
          oc: orderCostUnits(c.orderCost ?? CATALOGUE_DEFAULTS.orderCost),
          hc: holdingCostUnits(c.holdingCostPerUnitDay ?? CATALOGUE_DEFAULTS.holdingCostPerUnitDay),
        }));
        const raw = (await callScriptDurably(this.redis, this.durability, 'apply-catalogue', keys.keys, [
          JSON.stringify({ pa, u }),
          Date.now(),
        ])) as string;
        list<{ sku: string; st: 'ok' | 'stale' }>(JSON.parse(raw)).forEach((r, i) => {
          out[(group[i] as { index: number }).index] = { sku: r.sku, status: r.st };
        });
      }),
    );
    return out;
  }

  /** Orders held longer than `maxAgeMs` on one shard, leased for `leaseMs`. */
  async claimAbandonedHolds(
    shard: number,
    maxAgeMs: number,
    leaseMs: number,
    limit: number,
  ): Promise<{ orderId: string; heldSince: number }[]> {
    const keys = this.shards.keys[shard] as InventoryKeys;
    const flat = (await callScript(
      this.redis,
      'claim-abandoned-holds',
      [keys.holds()],
      [Date.now() - maxAgeMs, leaseMs, limit],
    )) as string[];
    const out: { orderId: string; heldSince: number }[] = [];
    for (let i = 0; i < flat.length; i += 2)
      out.push({ orderId: flat[i] as string, heldSince: Number(flat[i + 1]) });
    return out;
  }

  async getSku(sku: string): Promise<SkuState | null> {
    // as bytes: the record is packed (sku-record.ts)
    const [raw, parts] = await this.redis.hmgetBuffer(this.shards.keysOfSku(sku).sku(sku), sku, `@${sku}`);
    if (raw === null || raw === undefined) return null;
    const state = skuStateFromRecord(sku, raw);
    state.warehouses = warehouseStock(
      state.onHand,
      state.reserved,
      parts?.toString() ?? '',
      this.warehouses.defaultWarehouse,
    );
    return state;
  }

  /**
   * Re-checks up to `limit` SKUs of one shard's standing predictions as of `now` (from `offset`
   * in the at-risk index, so that successive sweeps go round all of them); returns how many it
   * cleared and where the next sweep starts.
   */
  async sweepPredictions(
    shard: number,
    offset: number,
    limit: number,
    now = Date.now(),
  ): Promise<{ cleared: number; next: number }> {
    const keys = this.shards.keys[shard] as InventoryKeys;
    const total = await this.redis.zcard(keys.atRisk());
    if (total === 0) return { cleared: 0, next: 0 };
    const start = offset < total ? offset : 0;
    const skus = await this.redis.zrange(keys.atRisk(), String(start), String(start + limit - 1));
    const scriptKeys = new ScriptKeys();
    scriptKeys.ref(keys.atRisk());
    scriptKeys.ref(keys.catalogueAlerts());
    scriptKeys.ref(keys.dirty());
    const candidates = skus.map((sku) => [sku, scriptKeys.ref(keys.sku(sku))]);
    const cleared = (await callScriptDurably(
      this.redis,
      this.durability,
      'sweep-predictions',
      scriptKeys.keys,
      [now, JSON.stringify(forecastArgument(this.forecast)), JSON.stringify(candidates)],
    )) as number;
    const next = start + skus.length;
    return { cleared, next: next >= total ? 0 : next - cleared };
  }

  /** A SKU's forecast as of `now` (velocities decayed to it), by the stock script's own rules; null for an unknown SKU. */
  async forecastView(sku: string, now = Date.now()): Promise<ForecastView | null> {
    const raw = (await callScript(
      this.redis,
      'forecast-view',
      [this.shards.keysOfSku(sku).sku(sku)],
      [sku, now, JSON.stringify(forecastArgument(this.forecast))],
    )) as string | null;
    return raw ? (JSON.parse(raw) as ForecastView) : null;
  }

  /**
   * An order's holds: with several shards, the records of every shard it has lines on. Its
   * state is REJECTED if any part was rejected or aborted, RESERVED while any part holds units.
   */
  async getOrder(orderId: string): Promise<OrderHold | null> {
    const parts = (
      await Promise.all(this.shards.keys.map((_, shard) => this.held.readOrders(shard, [orderId])))
    ).flatMap((records) => [...records.values()]);
    if (parts.length === 0) return null;
    const states = new Set(parts.map((p) => p.state));
    const letter =
      ['X', 'R', 'T', 'C', 'S', 'L'].find((l) => states.has(l)) ?? (parts[0] as { state: string }).state;
    return { orderId, state: ORDER_STATES[letter] ?? 'REJECTED', lines: parts.flatMap((p) => p.lines) };
  }

  /**
   * The shard count is part of the data: SKUs and holds written under one count are not found
   * under another. The first process records it; later ones with another count refuse to start.
   */
  async checkLayout(): Promise<void> {
    const { baseTag, count } = this.shards;
    const one = `{${baseTag}}:layout`;
    const many = `{${baseTag}.0}:layout`;
    const [own, other] = count === 1 ? [one, many] : [many, one];
    const recorded = (await this.redis.get(own)) ?? (await this.redis.get(other));
    const wanted = `${count} ${STOCK_LAYOUT}`;
    if (recorded === null) {
      await this.redis.set(own, wanted, 'NX');
      return;
    }
    const [recordedCount, recordedRecords] = recorded.split(' ');
    if (Number(recordedCount) !== count) {
      throw new PermanentStartError(
        `the stock state under tag "${baseTag}" was written with INVENTORY_SHARDS=${recordedCount}; this process has ${count}. ` +
          'Use the same count, or rebuild the state under the new one (stock rebuild into an empty Redis).',
      );
    }
    if (recordedRecords !== STOCK_LAYOUT) {
      throw new PermanentStartError(
        `the stock state under tag "${baseTag}" has the layout ${recordedRecords ?? 'of an earlier version (a key per SKU and per event id)'}; this version keeps ${STOCK_LAYOUT}. ` +
          'Stop every stock processor and run `npm run pipeline -- stock migrate-layout`.',
      );
    }
  }

  /** Records this version's layout (after a migration from an earlier one). */
  async recordLayout(): Promise<void> {
    const { baseTag, count } = this.shards;
    await this.redis.set(
      count === 1 ? `{${baseTag}}:layout` : `{${baseTag}.0}:layout`,
      `${count} ${STOCK_LAYOUT}`,
    );
  }

  /** A partition's applied-offset watermark on one shard. */
  async watermark(topic: string, partition: number, shard = 0): Promise<number> {
    const keys = this.shards.keys[shard] as InventoryKeys;
    return Number((await this.redis.get(keys.watermark(topic, partition))) ?? -1);
  }

  /** The watermarks of a partition over every shard. */
  async appliedPosition(topic: string, partition: number): Promise<AppliedPosition> {
    const marks = await Promise.all(
      this.shards.keys.map((_, shard) => this.watermark(topic, partition, shard)),
    );
    return { lowest: Math.min(...marks), highest: Math.max(...marks) };
  }

  /** Sets a partition's watermark on every shard (operators, after a topic was recreated). */
  async resetPosition(topic: string, partition: number, offset: number): Promise<void> {
    await Promise.all(
      this.shards.keys.map((keys) => this.redis.set(keys.watermark(topic, partition), String(offset))),
    );
  }
}

function upToOf(seg: BatchSegment): number {
  if (seg.upTo !== undefined) return seg.upTo;
  return seg.items.length ? (seg.items[seg.items.length - 1] as { offset: number }).offset : -1;
}

export function skuStateFromRecord(sku: string, raw: Buffer | string): SkuState {
  const r = parseSkuRecord(raw);
  if (!r) throw new Error(`corrupt SKU record of ${sku}: "${printableSkuRecord(raw)}"`);
  return {
    sku,
    onHand: r.on,
    reserved: r.rs,
    available: r.on - r.rs,
    version: r.v,
    lowStockThreshold: r.th,
    safetyStock: r.sf,
    catalogueVersion: r.cv > 0 ? r.cv : null,
    level: r.lv,
    warehouses: warehouseStock(r.on, r.rs, '', DEFAULT_WAREHOUSES.defaultWarehouse),
    leadTimeHours: r.lt,
    orderCost: r.oc / 100,
    holdingCostPerUnitDay: r.hc / 1_000_000,
    reservedPerHour: r.rv / VELOCITY_UNIT,
    soldPerHour: r.sv / VELOCITY_UNIT,
    velocityAt: r.vt * 1000,
    stockoutPredicted: (r.fc & SKU_FLAGS.PREDICTED) !== 0,
    reorderDue: (r.fc & SKU_FLAGS.REORDER_DUE) !== 0,
    reorderPoint: r.ro,
    reorderQuantity: r.rq,
  };
}
