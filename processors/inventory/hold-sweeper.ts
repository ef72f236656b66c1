import type { Producer } from 'kafkajs';
import type { Logger } from '../../runtime/logger.js';
import { Periodic } from '../../runtime/periodic.js';
import type { AlertSink } from '../../runtime/pipeline-alerts.js';
import type { AvroCodec } from '../../schemas/codec.js';
import { orderEvent } from '../../schemas/factories.js';
import { signOrderEvent } from '../../schemas/order-signature.js';
import type { StockStore } from './store.js';

export interface HoldSweeperOptions {
  ordersTopic: string;
  /** a hold older than this is abandoned */
  maxAgeMs: number;
  intervalMs: number;
  leaseMs: number;
  batch: number;
  signingSecret?: string;
  alerts?: AlertSink;
  logger: Logger;
}

/**
 * Bounds the holds: stock held for an order longer than the hold limit (its payment deadline
 * long past, the order processor never having expired it) is given back. The sweeper publishes
 * an EXPIRED order event with a deterministic id ("abandon.<orderId>"), which both processors
 * apply like any expiry (the stock is released once, the order ends EXPIRED), and raises a
 * HOLD_ABANDONED alert. A claim is leased: if the expiry does not take effect it comes again.
 */
export class HoldSweeper {
  private readonly loop: Periodic;

  constructor(
    private readonly store: StockStore,
    private readonly producer: Producer,
    private readonly codec: AvroCodec,
    private readonly options: HoldSweeperOptions,
  ) {
    this.loop = new Periodic(
      options.intervalMs,
      () => this.sweepOnce(),
      (err) => options.logger.warn({ err: err.message }, 'abandoned-hold sweep failed; retrying'),
    );
  }

  start(): void {
    this.loop.start();
  }

  async sweepOnce(now = Date.now()): Promise<number> {
    let total = 0;
    for (let shard = 0; shard < this.store.shards.count; shard++) {
      const due = await this.store.claimAbandonedHolds(
        shard,
        this.options.maxAgeMs,
        this.options.leaseMs,
        this.options.batch,
      );
      if (due.length === 0) continue;
      const messages = await Promise.all(
        due.map(async ({ orderId }) => {
          const event = signOrderEvent(
            orderEvent({
              eventId: `abandon.${orderId}`,
              orderId,
              type: 'EXPIRED',
              occurredAt: now,
              reason: 'stock held longer than the hold limit: released',
            }),
            this.options.signingSecret,
          );
          return { key: orderId, value: await this.codec.encode('orders', event) };
        }),
      );
      await this.producer.send({ topic: this.options.ordersTopic, messages, acks: -1 });
      for (const { orderId, heldSince } of due) {
        await this.options.alerts?.({
          id: `abandon.${orderId}:HOLD_ABANDONED`,
          source: 'STOCK',
          kind: 'HOLD_ABANDONED',
          severity: 'WARNING',
          subject: orderId,
          message: `order ${orderId}: stock held since ${new Date(heldSince).toISOString()} with no payment, cancellation or expiry; released`,
          attributes: { orderId, heldSince: String(heldSince) },
        });
      }
      total += due.length;
    }
    if (total) this.options.logger.warn({ orders: total }, 'abandoned holds released');
    return total;
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }
}
