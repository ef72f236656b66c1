import type { Producer } from 'kafkajs';
import type { Logger } from '../../runtime/logger.js';
import { Periodic } from '../../runtime/periodic.js';
import type { AvroCodec } from '../../schemas/codec.js';
import { anomalyAlert } from './processor.js';
import type { OrderStore } from './store.js';

export interface StaleSweeperOptions {
  alertsTopic: string;
  intervalMs: number;
  leaseMs: number;
  batch: number;
  logger: Logger;
}

/**
 * Bounds the orders kept in Redis: one placed and never decided, paid and never shipped, or
 * shipped and never delivered, with no event for the stale time, is archived (its keys get the
 * final TTL) after an ORDER_STALE alert is published. Reserved orders are bounded by their
 * payment deadline instead. The alert goes out before the archive, so a crash repeats it (same
 * id) rather than losing it.
 */
export class StaleOrderSweeper {
  private readonly loop: Periodic;

  constructor(
    private readonly store: OrderStore,
    private readonly producer: Producer,
    private readonly codec: AvroCodec,
    private readonly options: StaleSweeperOptions,
  ) {
    this.loop = new Periodic(
      options.intervalMs,
      () => this.sweepOnce(),
      (err) => options.logger.warn({ err: err.message }, 'stale-order sweep failed; retrying'),
    );
  }

  start(): void {
    this.loop.start();
  }

  async sweepOnce(now = Date.now()): Promise<number> {
    const due = await this.store.claimStale(now, this.options.batch, this.options.leaseMs);
    if (due.length === 0) return 0;
    const messages = await Promise.all(
      due.map(async ({ orderId, staleSince }) => ({
        key: orderId,
        value: await this.codec.encode(
          'alerts',
          anomalyAlert(orderId, 'ORDER_STALE', `stale.${staleSince}`, orderId, now),
        ),
      })),
    );
    await this.producer.send({ topic: this.options.alertsTopic, messages, acks: -1 });
    let archived = 0;
    for (const { orderId, lease } of due) if (await this.store.archive(orderId, lease)) archived += 1;
    this.options.logger.warn({ orders: archived }, 'stale orders archived');
    return archived;
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }
}
