import type { RedisClient } from '../../runtime/lua-scripts.js';
import type { InventoryKeys } from './keys.js';
import { parseLines, type EventResult, type ScriptLine } from './script-results.js';
import type { StockShards } from './shards.js';
import type { ShardItem, ShardSegment } from './stock-script-args.js';
import type { BatchSegment } from './store.js';

const STOCK_KINDS = new Set(['RECEIVED', 'ADJUSTED', 'COUNTED']);

/** Order records as the shards hold them, and a cache of the lines of recently decided orders. */
export class HeldOrders {
  constructor(
    private readonly redis: RedisClient,
    private readonly shards: StockShards,
  ) {}

  /** The segments again, with the lines of their orders as this shard holds them now. */
  async rereadHolds(shard: number, segments: readonly ShardSegment[]): Promise<ShardSegment[]> {
    const isOrderEvent = (i: ShardItem) => !STOCK_KINDS.has(i.command.kind) && i.command.kind !== 'PLACE';
    const ids = [
      ...new Set(
        segments.flatMap((s) =>
          s.items.flatMap((i) => (isOrderEvent(i) ? [(i.command as { orderId: string }).orderId] : [])),
        ),
      ),
    ];
    const lines = await this.readOrders(shard, ids);
    return segments.map((s) => ({
      ...s,
      items: s.items.map((i) =>
        isOrderEvent(i)
          ? { ...i, lines: lines.get((i.command as { orderId: string }).orderId)?.lines ?? [] }
          : i,
      ),
    }));
  }

  /** Order records of one shard: state letter and lines. */
  async readOrders(
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
   * The lines of orders this instance recently reserved, rejected, committed or released: an
   * order's later events usually come to the same partition, so their shards and SKU keys are
   * known without a read. Bounded; a wrong entry is safe (the script refuses undeclared keys
   * and the call is retried with a real read).
   */
  private readonly cache = new Map<string, ScriptLine[]>();
  private static readonly CACHE_MAX = 100_000;

  remember(results: readonly EventResult[]): void {
    for (const r of results) {
      for (const o of r.outputs) {
        if (o.k !== 'result') continue;
        this.cache.delete(o.oid);
        this.cache.set(o.oid, o.lines);
        if (this.cache.size > HeldOrders.CACHE_MAX) {
          this.cache.delete(this.cache.keys().next().value as string);
        }
      }
    }
  }

  /**
   * The lines, by shard, of the orders whose events (pay, ship, cancel, expire) are in these
   * chunks and that were not placed in the same chunk: from the cache, else read from every shard.
   */
  async partsOf(segments: readonly BatchSegment[]): Promise<Map<string, Map<number, ScriptLine[]>>> {
    const out = new Map<string, Map<number, ScriptLine[]>>();
    const toRead = new Set<string>();
    for (const seg of segments) {
      const placedHere = new Set<string>();
      for (const { command: c } of seg.items) {
        if (c.kind === 'PLACE') placedHere.add(c.orderId);
        if (!('orderId' in c) || c.kind === 'PLACE' || placedHere.has(c.orderId)) continue;
        const cached = this.cache.get(c.orderId);
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
}
