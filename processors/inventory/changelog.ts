import type { Producer } from 'kafkajs';
import type { Logger } from '../../runtime/logger.js';
import { Periodic } from '../../runtime/periodic.js';
import type { InventoryOutputs } from './outputs.js';
import type { StockStore } from './store.js';

export interface ChangelogOptions {
  intervalMs: number;
  /** most SKUs claimed per shard and round */
  batch: number;
  leaseMs: number;
  /** a SKU changed more recently is left to the chunk that changed it (it publishes its level) */
  graceMs: number;
  logger: Logger;
}

/**
 * Publishes the compacted `stock-levels` changelog and the alerts catalogue updates queued.
 *
 * The stock script marks every SKU it changes (in the same atomic call); this drainer claims
 * marked SKUs under a lease, publishes their state as it is now, and acknowledges: a SKU that
 * changed while its record was on the way stays marked and is published again. So the last
 * record of every SKU is its current state whatever the number of instances, shards and
 * in-flight produce requests, and a hot SKU changing a hundred times a second costs a few
 * records, not a hundred. Every instance drains every shard; leases keep them from doubling up.
 */
export class ChangelogDrain {
  private readonly loop: Periodic;
  private published = 0;

  constructor(
    private readonly store: StockStore,
    private readonly producer: Producer,
    private readonly outputs: InventoryOutputs,
    private readonly options: ChangelogOptions,
  ) {
    this.loop = new Periodic(
      options.intervalMs,
      () => this.drainOnce(),
      (err) => options.logger.warn({ err: err.message }, 'changelog publication failed; retrying'),
    );
  }

  start(): void {
    this.loop.start();
  }

  /** One round over every shard; returns how many records it published. */
  async drainOnce(): Promise<number> {
    let total = 0;
    for (let shard = 0; shard < this.store.shards.count; shard++) {
      // a whole pass over the shard's marked SKUs: the scan goes on where the last call left
      // it, so SKUs late in the hash are not starved by hot ones early in it
      do total += await this.drainShard(shard);
      while ((this.cursors.get(shard) ?? '0') !== '0');
    }
    this.published += total;
    return total;
  }

  private readonly cursors = new Map<number, string>();

  private async drainShard(shard: number): Promise<number> {
    const now = Date.now();
    const { levels, cursor } = await this.store.changelog.claimLevels(
      shard,
      this.options.batch,
      this.options.leaseMs,
      this.cursors.get(shard) ?? '0',
      this.options.graceMs,
    );
    this.cursors.set(shard, cursor);
    const alerts = await this.store.changelog.claimPendingAlerts(
      shard,
      this.options.batch,
      this.options.leaseMs,
    );
    if (levels.length === 0 && alerts.length === 0) return 0;
    const topicMessages = [];
    if (levels.length) {
      const records = levels.map((l) => this.outputs.level(l, now));
      topicMessages.push({
        topic: (records[0] as { topic: string }).topic,
        messages: records.map((r) => ({ key: r.key, value: r.value, headers: r.headers ?? {} })),
      });
    }
    if (alerts.length) {
      const records = alerts.map((a) => this.outputs.catalogueAlert(a, now));
      topicMessages.push({
        topic: (records[0] as { topic: string }).topic,
        messages: records.map((r) => ({ key: r.key, value: r.value, headers: r.headers ?? {} })),
      });
    }
    await this.producer.sendBatch({ topicMessages, acks: -1 });
    await this.store.changelog.ackLevels(shard, levels);
    await this.store.changelog.ackPendingAlerts(
      shard,
      alerts.map((a) => a.member),
    );
    return levels.length + alerts.length;
  }

  get recordsPublished(): number {
    return this.published;
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }
}
