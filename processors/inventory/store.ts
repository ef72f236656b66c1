import { fileURLToPath } from 'node:url';
import { callScript, defineScripts, type RedisClient, ScriptKeys } from '../../runtime/lua-scripts.js';
import type { CatalogueCommand, StockCommand } from './commands.js';
import { InventoryKeys } from './keys.js';

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
  return r;
}

/**
 * The authoritative stock state. Every change goes through the Lua scripts; this class only
 * prepares their keys and arguments and reads state for operators and tests.
 */
export class StockStore {
  readonly keys: InventoryKeys;
  private readonly eventIdTtl: number;
  private readonly finalOrderTtl: number;

  constructor(
    readonly redis: RedisClient,
    options: StockStoreOptions = {},
  ) {
    this.keys = new InventoryKeys(options.keyTag);
    this.eventIdTtl = options.eventIdTtlSeconds ?? 7 * 24 * 3600;
    this.finalOrderTtl = options.finalOrderTtlSeconds ?? 30 * 24 * 3600;
    defineScripts(redis, luaDir, SCRIPTS);
  }

  /**
   * Applies the commands of one input partition, in offset order, in one script call. Orders
   * to release or commit are read first (their lines name the SKU keys the script needs); the
   * script verifies nothing changed in between and the call is retried if it did.
   */
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
   * offset order, in one script call. Orders to release or commit are read first unless this
   * instance saw them reserved (their lines name the SKU keys the script needs); the script
   * refuses undeclared keys and the call is retried with a fresh read.
   */
  async applyBatches(segments: readonly BatchSegment[]): Promise<BatchApplyResult[]> {
    const seen = new Set<string>();
    for (const seg of segments) {
      const tp = `${seg.topic}:${seg.partition}`;
      if (seen.has(tp)) throw new Error(`two chunks of ${tp} in one call`);
      seen.add(tp);
    }
    const allItems = segments.flatMap((seg) => seg.items);
    for (let attempt = 0; ; attempt++) {
      // the first attempt trusts the lines this instance saw reserved; a retry reads Redis
      const held = await this.readHeldLines(allItems, attempt === 0);
      const scriptKeys = new ScriptKeys();
      const ref = (key: string): number => scriptKeys.ref(key);
      const keys = scriptKeys.keys;
      const segs = segments.map(({ topic, partition, items, trimUpTo }) => ({
        w: ref(this.keys.watermark(topic, partition)),
        b: ref(this.keys.outbox(topic, partition)),
        trim: trimUpTo,
        ev: items.map(({ offset, command: c }) => {
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
                s: ref(this.keys.sku(c.sku)),
                e: ref(this.keys.eventMarker(c.eventId)),
              };
            case 'PLACE':
              return {
                o: offset,
                t: 'PLACE',
                id: c.eventId,
                oid: c.orderId,
                ok: ref(this.keys.order(c.orderId)),
                l: c.lines.map((l) => [ref(this.keys.sku(l.sku)), l.quantity, l.sku]),
              };
            case 'RELEASE':
            case 'COMMIT':
              return {
                o: offset,
                t: c.kind,
                id: c.eventId,
                oid: c.orderId,
                ok: ref(this.keys.order(c.orderId)),
                l: (held.get(c.orderId) ?? []).map((l) => [ref(this.keys.sku(l.sku)), l.quantity, l.sku]),
              };
          }
        }),
      }));
      const raw = (await callScript(this.redis, 'apply-stock-batch', keys, [
        JSON.stringify(segs),
        this.eventIdTtl,
        this.finalOrderTtl,
      ])) as string;
      const parsed = JSON.parse(raw) as {
        stale: boolean;
        segs: { r: unknown; replay: unknown; ok: number; redelivered: number }[];
      };
      if (parsed.stale) {
        if (attempt >= 5) throw new Error('order lines kept changing under this call; giving up');
        continue;
      }
      return segments.map((seg, i) => {
        const reply = parsed.segs[i] as (typeof parsed.segs)[number];
        const applied = list<RawResult>(reply.r).map(toEventResult);
        this.rememberHolds(applied);
        return {
          applied,
          replayed: list<RawResult>(reply.replay).map(toEventResult),
          lastOffset: seg.items.length ? (seg.items[seg.items.length - 1] as { offset: number }).offset : -1,
          appliedCount: reply.ok,
          redeliveredCount: reply.redelivered,
        };
      });
    }
  }

  /**
   * Orders this instance reserved, with their lines: a release or commit usually follows on the
   * same partition, so its SKU keys are known without a read. Bounded; a wrong entry is safe
   * (the script refuses undeclared keys and the call is retried with a real read).
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

  private async readHeldLines(
    items: readonly { command: StockCommand }[],
    useCache: boolean,
  ): Promise<Map<string, ScriptLine[]>> {
    const ids = [
      ...new Set(
        items
          .filter((i) => i.command.kind === 'RELEASE' || i.command.kind === 'COMMIT')
          .map((i) => {
            const c = i.command as { orderId: string };
            return c.orderId;
          }),
      ),
    ];
    const out = new Map<string, ScriptLine[]>();
    const placedHere = new Set(items.flatMap((i) => (i.command.kind === 'PLACE' ? [i.command.orderId] : [])));
    const toRead: string[] = [];
    for (const id of ids) {
      const cached = useCache ? this.heldCache.get(id) : undefined;
      if (cached) out.set(id, cached);
      // placed in this very batch: its PLACE declares the keys
      else if (!(useCache && placedHere.has(id))) toRead.push(id);
    }
    if (toRead.length === 0) return out;
    const pipeline = this.redis.pipeline();
    for (const id of toRead) pipeline.get(this.keys.order(id));
    const replies = (await pipeline.exec()) ?? [];
    toRead.forEach((id, i) => {
      const [err, value] = replies[i] ?? [null, null];
      if (err) throw err;
      if (typeof value === 'string') out.set(id, parseLines(value.slice(2)));
    });
    return out;
  }

  async applyCatalogue(
    updates: readonly CatalogueCommand[],
  ): Promise<{ sku: string; status: 'ok' | 'stale'; outputs: ScriptOutput[] }[]> {
    if (updates.length === 0) return [];
    const keys = new ScriptKeys();
    const args = updates.map((u) => ({
      s: keys.ref(this.keys.sku(u.sku)),
      sku: u.sku,
      v: u.version,
      th: u.lowStockThreshold,
      sf: u.safetyStock,
    }));
    const raw = (await callScript(this.redis, 'apply-catalogue', keys.keys, [
      JSON.stringify(args),
    ])) as string;
    return list<{ sku: string; st: 'ok' | 'stale'; out: unknown }>(JSON.parse(raw)).map((r) => ({
      sku: r.sku,
      status: r.st,
      outputs: list<ScriptOutput>(r.out),
    }));
  }

  async getSku(sku: string): Promise<SkuState | null> {
    const h = await this.redis.hgetall(this.keys.sku(sku));
    if (!h || Object.keys(h).length === 0) return null;
    return skuStateFromHash(sku, h);
  }

  async getOrder(orderId: string): Promise<OrderHold | null> {
    const rec = await this.redis.get(this.keys.order(orderId));
    if (!rec) return null;
    return { orderId, state: ORDER_STATES[rec.slice(0, 1)] ?? 'REJECTED', lines: parseLines(rec.slice(2)) };
  }

  async watermark(topic: string, partition: number): Promise<number> {
    return Number((await this.redis.get(this.keys.watermark(topic, partition))) ?? -1);
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
