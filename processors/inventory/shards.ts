import { InventoryKeys } from './keys.js';

/**
 * How the stock state is spread over Redis hash tags. One tag (the default) keeps every
 * inventory key in one slot: a batch is one script call. N tags spread SKUs (and the orders'
 * holds on them) over N slots, so Redis Cluster can put them on different shards; an order
 * whose lines fall on several tags is reserved tentatively on each and then confirmed or
 * aborted (see store.ts). The count is part of the data's layout: changing it needs a rebuild.
 */
export class StockShards {
  readonly keys: readonly InventoryKeys[];

  constructor(
    readonly baseTag: string,
    readonly count: number,
  ) {
    if (!Number.isInteger(count) || count < 1) throw new Error(`invalid stock shard count ${count}`);
    this.keys =
      count === 1
        ? [new InventoryKeys(baseTag)]
        : Array.from({ length: count }, (_, i) => new InventoryKeys(`${baseTag}.${i}`));
  }

  ofSku(sku: string): number {
    return this.count === 1 ? 0 : fnv1a(sku) % this.count;
  }

  keysOfSku(sku: string): InventoryKeys {
    return this.keys[this.ofSku(sku)] as InventoryKeys;
  }

  /** Where an event about an order nobody holds is applied (and dead-lettered). */
  ofOrder(orderId: string): number {
    return this.count === 1 ? 0 : fnv1a(orderId) % this.count;
  }

  /** Lines grouped by the shard of their SKU, each group in the order's line order. */
  group<T extends { sku: string }>(lines: readonly T[]): Map<number, T[]> {
    const out = new Map<number, T[]>();
    for (const line of lines) {
      const s = this.ofSku(line.sku);
      const list = out.get(s);
      if (list) list.push(line);
      else out.set(s, [line]);
    }
    return out;
  }
}

// FNV-1a over UTF-16 code units: stable across processes and versions, cheap, well spread
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
