import type { Producer } from 'kafkajs';
import type { Logger } from '../../runtime/logger.js';
import { Periodic } from '../../runtime/periodic.js';
import type { AvroCodec } from '../../schemas/codec.js';
import { orderEvent } from '../../schemas/factories.js';
import { signOrderEvent } from '../../schemas/order-signature.js';
import type { OrderStore } from './store.js';

export interface ExpiryOptions {
  ordersTopic: string;
  intervalMs: number;
  leaseMs: number;
  batch: number;
  signingSecret?: string;
  logger: Logger;
}

/**
 * Expires reserved orders left unpaid past their deadline. Deadlines live in Redis, not in
 * process timers, so a restart loses none: each sweep claims the due ones (under a lease, so
 * several instances do not all publish) and publishes an EXPIRED order event. That event is
 * what both processors act on: the order processor moves the order to EXPIRED and the stock
 * processor releases its hold, exactly as for an EXPIRED sent by upstream.
 */
export class ExpirySweeper {
  private readonly loop: Periodic;
  private expiredTotal = 0;

  constructor(
    private readonly store: OrderStore,
    private readonly producer: Producer,
    private readonly codec: AvroCodec,
    private readonly options: ExpiryOptions,
  ) {
    this.loop = new Periodic(
      options.intervalMs,
      () => this.sweepOnce(),
      (err) => options.logger.warn({ err: err.message }, 'expiry sweep failed; retrying'),
    );
  }

  start(): void {
    this.loop.start();
  }

  /** One sweep; returns how many orders it published as expired. */
  async sweepOnce(now = Date.now()): Promise<number> {
    const due = await this.store.claimDueExpiries(now, this.options.batch, this.options.leaseMs);
    if (due.length === 0) return 0;
    const messages = await Promise.all(
      due.map(async ({ orderId, due: deadline }) => {
        const event = signOrderEvent(
          orderEvent({
            // one id per order: a re-claimed lease re-publishes the same event, applied once
            eventId: `expire.${orderId}`,
            orderId,
            type: 'EXPIRED',
            occurredAt: Math.min(deadline, now),
            reason: 'not paid before the payment deadline',
          }),
          this.options.signingSecret,
        );
        return { key: orderId, value: await this.codec.encode('orders', event) };
      }),
    );
    await this.producer.send({ topic: this.options.ordersTopic, messages, acks: -1 });
    this.expiredTotal += due.length;
    this.options.logger.info({ orders: due.length, total: this.expiredTotal }, 'unpaid orders expired');
    return due.length;
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }
}
