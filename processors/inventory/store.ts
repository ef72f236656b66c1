import { fileURLToPath } from 'node:url';
import { PermanentStartError } from '../../runtime/service-main.js';
import { callScript, defineScripts, type RedisClient, ScriptKeys } from '../../runtime/lua-scripts.js';
import type { CatalogueCommand, StockCommand } from './commands.js';
import type { InventoryKeys } from './keys.js';
import { planRounds, type PlannedEvent, type PlannedSegment, type Round } from './shard-plan.js';
import { StockShards } from './shards.js';

const luaDir = fileURLToPath(new URL('./lua/', import.meta.url));
const SCRIPTS = ['apply-stock-batch', 'apply-catalogue'] as const;

export interface ScriptLine {
  sku: string;
  quantity: number;
}

/** One output the script derived from an applied event. */
export type ScriptOutput =
  | {
      k: 'result';
      outcome: 'RESERVED' | 'REJECTED' | 'RELEASED' | 'COMMITTED';
      oid: string;
      lines: ScriptLine[];
      shortages: { sku: string; requested: number; available: number }[];
    }
  | { k: 'alert'; sku: string; kind: string; on: number; rs: number; th: number }
  | { k: 'level'; sku: string; on: number; rs: number; v: number; src: string };

export type EventStatus = 'ok' | 'dup' | 'skip' | 'dlq';

export interface EventResult {
  offset: number;
  /** Source event id; absent on the per-batch stock-level entry. */
  eventId?: string;
  status: EventStatus;
  why?: string;
  outputs: ScriptOutput[];
  /** from a CONFIRM/ABORT call (sharded stock): merged into the order's event by the store */
  settle?: boolean;
}

export interface BatchApplyResult {
  /** Results of events applied by this call (only events with outputs or a non-ok status). */
  applied: EventResult[];
  /** Stored results of redelivered events (offset <= watermark), to publish again. */
  replayed: EventResult[];
  /** Highest offset given to the script. */
  lastOffset: number;
  /** Events that changed state now (status ok). */
  appliedCount: number;
  /** Events at or below the watermark: applied before, not again. */
  redeliveredCount: number;
}

export interface BatchSegment {
  topic: string;
  partition: number;
  items: readonly { offset: number; command: StockCommand }[];
  /** Highest offset of this partition whose outputs Kafka acknowledged: trims its outbox. */
  trimUpTo: number;
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
}

export interface OrderHold {
  orderId: string;
  state: 'RESERVED' | 'REJECTED' | 'RELEASED' | 'COMMITTED';
  lines: ScriptLine[];
}

const ORDER_STATES: Record<string, OrderHold['state']> = {
  R: 'RESERVED',
  X: 'REJECTED',
  L: 'RELEASED',
  C: 'COMMITTED',
};

export interface StockStoreOptions {
  keyTag?: string;
  /** How many hash tags the SKUs are spread over (see shards.ts); part of the data's layout. */
  shards?: number;
  /** How long a stock event id is remembered: the window in which upstream re-sends are caught. */
  eventIdTtlSeconds?: number;
  /** How long a final order record (released, committed, rejected) is kept. */
  finalOrderTtlSeconds?: number;
}

export function parseLines(encoded: string): ScriptLine[] {
  if (!encoded) return [];
  return encoded.split(',').map((part) => {
    const i = part.lastIndexOf(':');
    return { sku: part.slice(0, i), quantity: Number(part.slice(i + 1)) };
  });
}

// cjson encodes an empty Lua table as {}, so lists may arrive as objects
function list<T>(v: unknown): T[] {
  return Array.isArray(v) ? (v as T[]) : [];
}

interface RawResult {
  o: number;
  id?: string;
  st: EventStatus;
  why?: string;
  out: unknown;
  ph?: number;
}

function toEventResult(raw: RawResult): EventResult {
  const outputs = list<Record<string, unknown>>(raw.out).map((o): ScriptOutput => {
    if (o.k === 'result') {
      return {
        k: 'result',
        outcome: o.outcome as 'RESERVED',
        oid: o.oid as string,
        lines: list<[number, number, string]>(o.l).map(([, quantity, sku]) => ({ sku, quantity })),
        shortages: list<{ sku: string; requested: number; available: number }>(o.sh),
      };
    }
    return o as unknown as ScriptOutput;
  });
  const r: EventResult = { offset: raw.o, status: raw.st, outputs };
  if (raw.id) r.eventId = raw.id;
  if (raw.why) r.why = raw.why;
  if (raw.ph === 2) r.settle = true;
  return r;
}

/**
 * CONFIRM: every shard reserved. ABORT: rejected on a shard, the order is recorded rejected.
 * DROP: dead-lettered or a re-send, the shard forgets the order as if never placed there.
 */
type SettleKind = 'CONFIRM' | 'ABORT' | 'DROP';

/** Settles a tentative hold on one shard once every shard of the order answered. */
interface SettleCommand {
  kind: SettleKind;
  eventId: string;
  orderId: string;
}

interface ShardItem {
  offset: number;
  command: StockCommand | SettleCommand;
  /** this shard's lines of the order (PLACE, RELEASE, COMMIT, CONFIRM, ABORT) */
  lines: readonly ScriptLine[];
  tentative: boolean;
}

interface ShardSegment {
  topic: string;
  partition: number;
  items: ShardItem[];
  trimUpTo: number;
  /** CONFIRM/ABORT segment: no watermark, idempotent by the order record */
  settle: boolean;
}

/** One partition's results: of one shard's call, or merged over the shards. */
interface PartResults {
  applied: EventResult[];
  replayed: EventResult[];
  ok: number;
  redelivered: number;
}

interface ShardReply extends PartResults {
  shard: number;
  /** highest offset this shard had applied before (its events up to there were redelivered) */
  redeliveredUpTo: number;
}

/** A segment's items for every shard, before callShards splits them into one call per shard. */
interface ShardCallSegment {
  topic: string;
  partition: number;
  trimUpTo: number;
  settle: boolean;
  items: { shard: number; item: ShardItem }[];
}

const STOCK_KINDS = new Set(['RECEIVED', 'ADJUSTED', 'COUNTED']);

/**
 * The authoritative stock state. Every change goes through the Lua scripts; this class only
 * prepares their keys and arguments, spreads a batch over the shards (see shards.ts and
 * shard-plan.ts) and reads state for operators and tests.
 */
export class StockStore {
  readonly shards: StockShards;
  private readonly eventIdTtl: number;
  private readonly finalOrderTtl: number;

  constructor(
    readonly redis: RedisClient,
    options: StockStoreOptions = {},
  ) {
    this.shards = new StockShards(options.keyTag ?? 'inv', options.shards ?? 1);
    this.eventIdTtl = options.eventIdTtlSeconds ?? 7 * 24 * 3600;
    this.finalOrderTtl = options.finalOrderTtlSeconds ?? 30 * 24 * 3600;
    defineScripts(redis, luaDir, SCRIPTS);
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
   * settle decision is taken again from the stored results.
   */
  async applyBatches(segments: readonly BatchSegment[]): Promise<BatchApplyResult[]> {
    const seen = new Set<string>();
    for (const seg of segments) {
      const tp = `${seg.topic}:${seg.partition}`;
      if (seen.has(tp)) throw new Error(`two chunks of ${tp} in one call`);
      seen.add(tp);
    }
    const held = await this.heldParts(segments);
    const rounds = planRounds(segments, this.shards, held);
    const totals: PartResults[] = segments.map(() => ({
      applied: [],
      replayed: [],
      ok: 0,
      redelivered: 0,
    }));
    const add = (round: Round, results: PartResults[]) =>
      results.forEach((r, i) => {
        const t = totals[(round[i] as PlannedSegment).segment] as PartResults;
        t.applied.push(...r.applied);
        t.replayed.push(...r.replayed);
        t.ok += r.ok;
        t.redelivered += r.redelivered;
      });
    // A round's settling rides in the next round's calls, ahead of its events (a script call
    // runs its segments in order): one call per shard and round instead of two.
    let previous: { round: Round; merged: MergedPart[]; settles: ShardCallSegment[] } | null = null;
    for (const round of rounds) {
      const carried: ShardCallSegment[] = previous?.settles ?? [];
      const replies = await this.callShards([...carried, ...this.phase1Segments(segments, round)]);
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
    if (this.shards.count > 1) keepNewestLevels(...totals.flatMap((t) => [t.applied, t.replayed]));
    return segments.map((seg, i) => {
      const t = totals[i] as PartResults;
      this.rememberHolds(t.applied);
      return {
        applied: t.applied,
        replayed: t.replayed,
        lastOffset: seg.items.length ? (seg.items[seg.items.length - 1] as { offset: number }).offset : -1,
        appliedCount: t.ok,
        redeliveredCount: t.redelivered,
      };
    });
  }

  /** Phase 1 of a round: every shard applies its part of every event. */
  private phase1Segments(segments: readonly BatchSegment[], round: Round): ShardCallSegment[] {
    return round.map((part) => {
      const seg = segments[part.segment] as BatchSegment;
      return {
        topic: seg.topic,
        partition: seg.partition,
        trimUpTo: seg.trimUpTo,
        settle: false,
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
            },
            lines: event.parts.get(shard) ?? [],
            tentative: false,
          },
        })),
      );
      return { topic: seg.topic, partition: seg.partition, trimUpTo: -1, settle: true, items };
    });
  }

  /**
   * Runs one call per shard holding any of the segments' items; returns, per segment, the
   * replies of the shards that had items of it (in shard order).
   */
  private async callShards(segments: readonly ShardCallSegment[]): Promise<ShardReply[][]> {
    const byShard = new Map<number, { index: number; seg: ShardSegment }[]>();
    segments.forEach((s, index) => {
      const perShard = new Map<number, ShardItem[]>();
      for (const { shard, item } of s.items) {
        const list = perShard.get(shard);
        if (list) list.push(item);
        else perShard.set(shard, [item]);
      }
      for (const [shard, items] of perShard) {
        const seg = { topic: s.topic, partition: s.partition, trimUpTo: s.trimUpTo, settle: s.settle, items };
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
   * One script call on one shard. Releases name the lines they expect the order to hold; the
   * script refuses keys it was not given (another instance changed the order meanwhile) and
   * the call is retried with the order records read again.
   */
  private async applyOnShard(shard: number, segments: readonly ShardSegment[]): Promise<ShardReply[]> {
    const keys = this.shards.keys[shard] as InventoryKeys;
    let current = segments;
    for (let attempt = 0; ; attempt++) {
      const scriptKeys = new ScriptKeys();
      const ref = (key: string): number => scriptKeys.ref(key);
      const lineRefs = (lines: readonly ScriptLine[]) =>
        lines.map((l) => [ref(keys.sku(l.sku)), l.quantity, l.sku]);
      const segs = current.map(({ topic, partition, items, trimUpTo, settle }) => ({
        w: settle ? 0 : ref(keys.watermark(topic, partition)),
        b: ref(keys.outbox(topic, partition)),
        trim: trimUpTo,
        ev: items.map(({ offset, command: c, lines, tentative }) => {
          switch (c.kind) {
            case 'RECEIVED':
            case 'ADJUSTED':
            case 'COUNTED':
              return {
                o: offset,
                t: c.kind,
                id: c.eventId,
                q: c.quantity,
                sku: c.sku,
                s: ref(keys.sku(c.sku)),
                e: ref(keys.eventMarker(c.eventId)),
              };
            case 'PLACE':
              return {
                o: offset,
                t: 'PLACE',
                id: c.eventId,
                oid: c.orderId,
                ok: ref(keys.order(c.orderId)),
                l: lineRefs(lines),
                ...(tentative ? { tent: 1, tk: ref(keys.tentative(c.orderId)) } : {}),
              };
            default:
              return {
                o: offset,
                t: c.kind,
                id: c.eventId,
                oid: c.orderId,
                ok: ref(keys.order(c.orderId)),
                l: lineRefs(lines),
                ...(c.kind === 'RELEASE' || c.kind === 'COMMIT'
                  ? {}
                  : { tk: ref(keys.tentative(c.orderId)) }),
              };
          }
        }),
      }));
      const raw = (await callScript(this.redis, 'apply-stock-batch', scriptKeys.keys, [
        JSON.stringify(segs),
        this.eventIdTtl,
        this.finalOrderTtl,
      ])) as string;
      const parsed = JSON.parse(raw) as {
        stale: boolean;
        segs: { r: unknown; replay: unknown; ok: number; redelivered: number; rm: number }[];
      };
      if (parsed.stale) {
        if (attempt >= 5) throw new Error('order lines kept changing under this call; giving up');
        current = await this.rereadHolds(shard, current);
        continue;
      }
      return parsed.segs.map((reply) => ({
        shard,
        redeliveredUpTo: reply.rm,
        applied: list<RawResult>(reply.r).map(toEventResult),
        replayed: list<RawResult>(reply.replay).map(toEventResult),
        ok: reply.ok,
        redelivered: reply.redelivered,
      }));
    }
  }

  /** The segments again, with the lines of their orders as this shard holds them now. */
  private async rereadHolds(shard: number, segments: readonly ShardSegment[]): Promise<ShardSegment[]> {
    const ids = [
      ...new Set(
        segments.flatMap((s) =>
          s.items.flatMap((i) =>
            STOCK_KINDS.has(i.command.kind) || i.command.kind === 'PLACE'
              ? []
              : [(i.command as { orderId: string }).orderId],
          ),
        ),
      ),
    ];
    const lines = await this.readOrders(shard, ids);
    return segments.map((s) => ({
      ...s,
      items: s.items.map((i) =>
        STOCK_KINDS.has(i.command.kind) || i.command.kind === 'PLACE'
          ? i
          : { ...i, lines: lines.get((i.command as { orderId: string }).orderId)?.lines ?? [] },
      ),
    }));
  }

  /** Order records of one shard: state letter and lines. */
  private async readOrders(
    shard: number,
    orderIds: readonly string[],
  ): Promise<Map<string, { state: string; lines: ScriptLine[] }>> {
    const out = new Map<string, { state: string; lines: ScriptLine[] }>();
    if (orderIds.length === 0) return out;
    const keys = this.shards.keys[shard] as InventoryKeys;
    const pipeline = this.redis.pipeline();
    for (const id of orderIds) pipeline.get(keys.order(id));
    const replies = (await pipeline.exec()) ?? [];
    orderIds.forEach((id, i) => {
      const [err, value] = replies[i] ?? [null, null];
      if (err) throw err;
      if (typeof value === 'string')
        out.set(id, { state: value.slice(0, 1), lines: parseLines(value.slice(2)) });
    });
    return out;
  }

  /**
   * Orders this instance reserved, with their lines: a release or commit usually follows on the
   * same partition, so its shards and SKU keys are known without a read. Bounded; a wrong entry
   * is safe (the script refuses undeclared keys and the call is retried with a real read).
   */
  private readonly heldCache = new Map<string, ScriptLine[]>();
  private static readonly HELD_CACHE_MAX = 100_000;

  private rememberHolds(results: readonly EventResult[]): void {
    for (const r of results) {
      for (const o of r.outputs) {
        if (o.k !== 'result') continue;
        if (o.outcome === 'RESERVED') {
          this.heldCache.set(o.oid, o.lines);
          if (this.heldCache.size > StockStore.HELD_CACHE_MAX) {
            this.heldCache.delete(this.heldCache.keys().next().value as string);
          }
        } else this.heldCache.delete(o.oid);
      }
    }
  }

  /**
   * The lines, by shard, of the orders released or committed in these chunks and not placed in
   * the same chunk: from the cache, else read from every shard.
   */
  private async heldParts(
    segments: readonly BatchSegment[],
  ): Promise<Map<string, Map<number, ScriptLine[]>>> {
    const out = new Map<string, Map<number, ScriptLine[]>>();
    const toRead = new Set<string>();
    for (const seg of segments) {
      const placedHere = new Set<string>();
      for (const { command: c } of seg.items) {
        if (c.kind === 'PLACE') placedHere.add(c.orderId);
        if ((c.kind !== 'RELEASE' && c.kind !== 'COMMIT') || placedHere.has(c.orderId)) continue;
        const cached = this.heldCache.get(c.orderId);
        if (cached) out.set(c.orderId, this.shards.group(cached));
        else toRead.add(c.orderId);
      }
    }
    if (toRead.size === 0) return out;
    const ids = [...toRead];
    const perShard = await Promise.all(this.shards.keys.map((_, shard) => this.readOrders(shard, ids)));
    perShard.forEach((records, shard) => {
      for (const [id, { lines }] of records) {
        let parts = out.get(id);
        if (!parts) out.set(id, (parts = new Map()));
        parts.set(shard, lines);
      }
    });
    return out;
  }

  async applyCatalogue(
    updates: readonly CatalogueCommand[],
  ): Promise<{ sku: string; status: 'ok' | 'stale'; outputs: ScriptOutput[] }[]> {
    const byShard = this.shards.group(updates.map((u, index) => ({ ...u, index })));
    const out: { sku: string; status: 'ok' | 'stale'; outputs: ScriptOutput[] }[] = [];
    await Promise.all(
      [...byShard].map(async ([shard, group]) => {
        const keys = new ScriptKeys();
        const shardKeys = this.shards.keys[shard] as InventoryKeys;
        const args = group.map((u) => ({
          s: keys.ref(shardKeys.sku(u.sku)),
          sku: u.sku,
          v: u.version,
          th: u.lowStockThreshold,
          sf: u.safetyStock,
        }));
        const raw = (await callScript(this.redis, 'apply-catalogue', keys.keys, [
          JSON.stringify(args),
        ])) as string;
        list<{ sku: string; st: 'ok' | 'stale'; out: unknown }>(JSON.parse(raw)).forEach((r, i) => {
          out[(group[i] as { index: number }).index] = {
            sku: r.sku,
            status: r.st,
            outputs: list<ScriptOutput>(r.out),
          };
        });
      }),
    );
    return out;
  }

  async getSku(sku: string): Promise<SkuState | null> {
    const h = await this.redis.hgetall(this.shards.keysOfSku(sku).sku(sku));
    if (!h || Object.keys(h).length === 0) return null;
    return skuStateFromHash(sku, h);
  }

  /**
   * An order's holds: with several shards, the records of every shard it has lines on. Its
   * state is REJECTED if any part was rejected or aborted, RESERVED while any part holds units.
   */
  async getOrder(orderId: string): Promise<OrderHold | null> {
    const parts = (
      await Promise.all(this.shards.keys.map((_, shard) => this.readOrders(shard, [orderId])))
    ).flatMap((records) => [...records.values()]);
    if (parts.length === 0) return null;
    const states = new Set(parts.map((p) => p.state));
    const letter = states.has('X')
      ? 'X'
      : states.has('R') || states.has('T')
        ? 'R'
        : states.has('L')
          ? 'L'
          : 'C';
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
    if (recorded !== null && Number(recorded) !== count) {
      throw new PermanentStartError(
        `the stock state under tag "${baseTag}" was written with INVENTORY_SHARDS=${recorded}; this process has ${count}. ` +
          'Use the same count, or rebuild the state under the new one (stock rebuild into an empty Redis).',
      );
    }
    if (recorded === null) await this.redis.set(own, String(count), 'NX');
  }

  /** A partition's applied-offset watermark on one shard. */
  async watermark(topic: string, partition: number, shard = 0): Promise<number> {
    const keys = this.shards.keys[shard] as InventoryKeys;
    return Number((await this.redis.get(keys.watermark(topic, partition))) ?? -1);
  }
}

export function skuStateFromHash(sku: string, h: Record<string, string>): SkuState {
  const n = (k: string) => Number(h[k] ?? 0);
  const cv = Number(h.cv ?? 0);
  return {
    sku,
    onHand: n('on'),
    reserved: n('rs'),
    available: n('on') - n('rs'),
    version: n('v'),
    lowStockThreshold: n('th'),
    safetyStock: n('sf'),
    catalogueVersion: cv > 0 ? cv : null,
    level: n('lv'),
  };
}

interface SpanningGroup {
  fresh: { shard: number; r: EventResult }[];
  old: { shard: number; r: EventResult }[];
}

interface MergedPart extends PartResults {
  settle: { event: PlannedEvent; kind: SettleKind; shards: number[] }[];
  /** the merged result of each event spanning shards, by offset: settling adds its alerts */
  spanning: Map<number, EventResult>;
  /** results of an earlier settle call, found among the replays */
  settledBefore: EventResult[];
}

const resultOf = (r: EventResult) =>
  r.outputs.find((o): o is Extract<ScriptOutput, { k: 'result' }> => o.k === 'result');

/** One result for a PLACE applied on several shards, and which of its tentative holds to settle. */
function mergePlace(
  e: PlannedEvent,
  entries: readonly { shard: number; r: EventResult }[],
): { merged: EventResult; kind: SettleKind; shards: number[] } {
  const c = e.command as Extract<StockCommand, { kind: 'PLACE' }>;
  const reservedOn = entries.filter(({ r }) => r.status === 'ok' && resultOf(r)?.outcome === 'RESERVED');
  const recordedOn = entries.filter(({ r }) => r.status === 'ok');
  const base = { offset: e.offset, eventId: c.eventId };
  const dlq = entries.find(({ r }) => r.status === 'dlq')?.r;
  const dup = entries.find(({ r }) => r.status === 'dup')?.r;
  const rejections = entries.flatMap(({ r }) => {
    const res = r.status === 'ok' ? resultOf(r) : undefined;
    return res?.outcome === 'REJECTED' ? [res] : [];
  });
  let merged: EventResult;
  if (dlq) merged = { ...base, status: 'dlq', ...(dlq.why ? { why: dlq.why } : {}), outputs: [] };
  else if (dup) merged = { ...base, status: 'dup', ...(dup.why ? { why: dup.why } : {}), outputs: [] };
  else {
    const position = new Map(c.lines.map((l, i) => [l.sku, i]));
    const shortages = rejections
      .flatMap((r) => r.shortages)
      .sort((a, b) => (position.get(a.sku) ?? 0) - (position.get(b.sku) ?? 0));
    merged = {
      ...base,
      status: 'ok',
      outputs: [
        {
          k: 'result',
          outcome: rejections.length ? 'REJECTED' : 'RESERVED',
          oid: c.orderId,
          lines: c.lines.map((l) => ({ sku: l.sku, quantity: l.quantity })),
          shortages,
        },
      ],
    };
  }
  const confirm = merged.status === 'ok' && !rejections.length && reservedOn.length === e.parts.size;
  return confirm
    ? { merged, kind: 'CONFIRM', shards: [...e.parts.keys()] }
    : {
        merged,
        kind: merged.status === 'ok' ? 'ABORT' : 'DROP',
        shards: (merged.status === 'ok' ? reservedOn : recordedOn).map(({ shard }) => shard),
      };
}

/** One result for a release or commit of an order held on several shards. */
function mergeRelease(e: PlannedEvent, entries: readonly { shard: number; r: EventResult }[]): EventResult {
  const base = { offset: e.offset, eventId: e.command.eventId };
  const done = entries.filter(({ r }) => r.status === 'ok').map(({ r }) => r);
  const first = done.map(resultOf).find((res) => res !== undefined);
  if (first) {
    return {
      ...base,
      status: 'ok',
      outputs: [
        {
          ...first,
          lines: done.flatMap((r) => resultOf(r)?.lines ?? []),
        },
        ...done.flatMap((r) => r.outputs.filter((o) => o.k !== 'result')),
      ],
    };
  }
  const pick = (['dup', 'skip', 'dlq'] as const)
    .map((st) => entries.find(({ r }) => r.status === st)?.r)
    .find((r) => r !== undefined) as EventResult;
  return { ...base, status: pick.status, ...(pick.why ? { why: pick.why } : {}), outputs: [] };
}

/**
 * The replies of every shard for one partition's part of a round, as one partition's results:
 * an event applied on several shards gets one result, and counts once.
 */
function mergeShardReplies(events: readonly PlannedEvent[], replies: readonly ShardReply[]): MergedPart {
  const spanningEvents = events.filter((e) => e.parts.size > 1);
  const spanningAt = new Set(spanningEvents.map((e) => e.offset));
  const part: MergedPart = {
    applied: [],
    replayed: [],
    ok: 0,
    redelivered: 0,
    settle: [],
    spanning: new Map(),
    settledBefore: [],
  };
  const groups = new Map<number, SpanningGroup>();
  const redeliveredUpTo = new Map<number, number>();
  for (const reply of replies) {
    redeliveredUpTo.set(reply.shard, reply.redeliveredUpTo);
    part.ok += reply.ok;
    part.redelivered += reply.redelivered;
    for (const [fresh, results] of [
      [true, reply.applied],
      [false, reply.replayed],
    ] as const) {
      for (const r of results) {
        if (r.settle) part.settledBefore.push(r);
        else if (r.eventId !== undefined && spanningAt.has(r.offset)) {
          let g = groups.get(r.offset);
          if (!g) groups.set(r.offset, (g = { fresh: [], old: [] }));
          (fresh ? g.fresh : g.old).push({ shard: reply.shard, r });
        } else (fresh ? part.applied : part.replayed).push(r);
      }
    }
  }
  for (const e of spanningEvents) {
    const g = groups.get(e.offset) ?? { fresh: [], old: [] };
    // every shard counted the event; it counts once, as applied if any shard applied it now
    const freshOk = g.fresh.filter(({ r }) => r.status === 'ok').length;
    const redeliveredOn = [...e.parts.keys()].filter(
      (s) => e.offset <= (redeliveredUpTo.get(s) ?? -1),
    ).length;
    const entries = [...g.fresh, ...g.old];
    const mergedOk = entries.every(({ r }) => r.status === 'ok');
    if (freshOk > 0) part.ok -= mergedOk ? freshOk - 1 : freshOk;
    if (g.fresh.length > 0) part.redelivered -= redeliveredOn;
    else if (redeliveredOn > 1) part.redelivered -= redeliveredOn - 1;
    if (entries.length === 0) continue; // published and trimmed long ago: nothing to repeat
    let merged: EventResult;
    if (e.command.kind === 'PLACE') {
      const placed = mergePlace(e, entries);
      merged = placed.merged;
      if (placed.shards.length) part.settle.push({ event: e, kind: placed.kind, shards: placed.shards });
    } else merged = mergeRelease(e, entries);
    part.spanning.set(e.offset, merged);
    (g.fresh.length > 0 ? part.applied : part.replayed).push(merged);
  }
  return part;
}

const byOffset = (a: EventResult, b: EventResult) => a.offset - b.offset;

/** Adds what settling reported (deferred alerts, levels after an abort) and orders the results. */
function finishPart(part: MergedPart, settled: readonly ShardReply[]): PartResults {
  const settledLevels = { fresh: [] as EventResult[], old: [] as EventResult[] };
  const take = (r: EventResult, fresh: boolean) => {
    const target = r.eventId !== undefined ? part.spanning.get(r.offset) : undefined;
    if (target) target.outputs.push(...r.outputs.filter((o) => o.k === 'alert'));
    else if (r.eventId === undefined) (fresh ? settledLevels.fresh : settledLevels.old).push(r);
  };
  for (const r of part.settledBefore) take(r, false);
  for (const reply of settled) for (const r of reply.applied) take(r, true);
  const strip = (r: EventResult): EventResult => {
    const { settle: _settle, ...rest } = r;
    return rest;
  };
  return {
    applied: [...part.applied.sort(byOffset), ...settledLevels.fresh.map(strip)],
    replayed: [...part.replayed.sort(byOffset), ...settledLevels.old.map(strip)],
    ok: part.ok,
    redelivered: part.redelivered,
  };
}

function finishRound(merged: readonly MergedPart[], settled: readonly ShardReply[][]): PartResults[] {
  return merged.map((m, i) => finishPart(m, settled[i] ?? []));
}

/**
 * Several shard calls for one partition may each publish a SKU's level: only the newest
 * (highest version) is kept, so the changelog's last record per SKU is its current state.
 */
function keepNewestLevels(...lists: EventResult[][]): void {
  const newest = new Map<string, number>();
  for (const list of lists)
    for (const r of list)
      for (const o of r.outputs)
        if (o.k === 'level') newest.set(o.sku, Math.max(newest.get(o.sku) ?? -1, o.v));
  const kept = new Set<string>();
  for (const list of lists) {
    for (let i = list.length - 1; i >= 0; i--) {
      const r = list[i] as EventResult;
      if (!r.outputs.some((o) => o.k === 'level')) continue;
      r.outputs = r.outputs.filter((o) => {
        if (o.k !== 'level') return true;
        if (o.v !== newest.get(o.sku) || kept.has(o.sku)) return false;
        kept.add(o.sku);
        return true;
      });
      if (r.outputs.length === 0 && r.eventId === undefined) list.splice(i, 1);
    }
  }
}
