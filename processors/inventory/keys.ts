import { eventIdBucket, skuBucket } from './sku-record.js';

/**
 * Redis key names of one tag's inventory state. Every key carries the same hash tag, so a
 * script call's keys are one slot in Redis Cluster; StockShards spreads SKUs over several tags.
 */
export class InventoryKeys {
  private readonly p: string;

  constructor(readonly tag: string = 'inv') {
    if (!/^[A-Za-z0-9_.-]+$/.test(tag)) throw new Error(`invalid inventory key tag "${tag}"`);
    this.p = `{${tag}}:`;
  }

  /** hash: the bucket holding this SKU's record (field = the SKU, see sku-record.ts). */
  sku(sku: string): string {
    return `${this.p}sb:${skuBucket(sku)}`;
  }

  order(orderId: string): string {
    return `${this.p}o:${orderId}`;
  }

  /** Which PLACE left this shard's record of an order spanning shards, until it is settled. */
  tentative(orderId: string): string {
    return `${this.p}t:${orderId}`;
  }

  /** hash: the bucket remembering this stock event id (field = id, value = minute applied). */
  eventIdBucket(eventId: string): string {
    return `${this.p}eb:${eventIdBucket(eventId)}`;
  }

  /** Where earlier versions kept a stock event id (a key per id); only the migration reads it. */
  legacyEventMarkerPattern(): string {
    return `${this.p}e:*`;
  }

  watermark(topic: string, partition: number): string {
    return `${this.p}wm:${topic}:${partition}`;
  }

  outbox(topic: string, partition: number): string {
    return `${this.p}ob:${topic}:${partition}`;
  }

  /** zset: orderId by when its hold was made (the abandoned-hold sweeper). */
  holds(): string {
    return `${this.p}holds`;
  }

  /** hash: SKUs whose level the changelog has not published yet. */
  dirty(): string {
    return `${this.p}dirty`;
  }

  /** hash: SKU -> how many chunks that changed it have not yet acknowledged its level record. */
  dirtyPending(): string {
    return `${this.p}dirty-pending`;
  }

  /** zset: SKUs a changelog drainer is publishing, by lease end. */
  dirtyLeases(): string {
    return `${this.p}dirty-leases`;
  }

  /** zset: alerts of catalogue updates waiting to be published. */
  catalogueAlerts(): string {
    return `${this.p}catalogue-alerts`;
  }

  /** zset: SKUs with a standing stock-out prediction, by predicted stock-out time (ms): what the forecast sweep re-checks. */
  atRisk(): string {
    return `${this.p}at-risk`;
  }

  /** Pattern matching every SKU bucket (for SCAN in operator commands). */
  skuBucketPattern(): string {
    return `${this.p}sb:*`;
  }

  /** Where this tag's layout (shard count, record format) is recorded. */
  layout(): string {
    return `${this.p}layout`;
  }

  /** Every key of this inventory (for rebuild into an empty Redis and for tests). */
  allPattern(): string {
    return `${this.p}*`;
  }
}
