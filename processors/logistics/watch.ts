import type { Producer } from 'kafkajs';
import type { Logger } from '../../runtime/logger.js';
import { Periodic } from '../../runtime/periodic.js';
import type { AvroCodec } from '../../schemas/codec.js';
import { logisticsAlert } from './processor.js';
import type { ShipmentStore } from './store.js';

export interface DelayWatchOptions {
  alertsTopic: string;
  intervalMs: number;
  leaseMs: number;
  batch: number;
  logger: Logger;
}

/**
 * Raises DELAYED (past the promised delivery time) and SILENT (no carrier event for too long)
 * alerts, and closes shipments nothing moved for the close time (CLOSED: lost or abandoned
 * parcels are not kept in Redis forever). The due times live in Redis, so restarts lose none; each alert is published before
 * it is recorded as raised, so a crash in between repeats it (same alert id) rather than losing it.
 */
export class DelayWatch {
  private readonly loop: Periodic;

  constructor(
    private readonly store: ShipmentStore,
    private readonly producer: Producer,
    private readonly codec: AvroCodec,
    private readonly options: DelayWatchOptions,
  ) {
    this.loop = new Periodic(
      options.intervalMs,
      () => this.checkOnce(),
      (err) => options.logger.warn({ err: err.message }, 'delay check failed; retrying'),
    );
  }

  start(): void {
    this.loop.start();
  }

  async checkOnce(now = Date.now()): Promise<number> {
    const due = await this.store.claimDue(now, this.options.batch, this.options.leaseMs);
    if (due.length === 0) return 0;
    const messages = [];
    for (const { kind, trackingNumber } of due) {
      const s = await this.store.get(trackingNumber);
      const alert = logisticsAlert(
        kind,
        {
          trackingNumber,
          carrier: s?.carrier ?? '?',
          orderId: s?.orderId ?? null,
          status: s?.status ?? null,
        },
        kind === 'DELAYED' && s?.promisedDeliveryAt
          ? `promised ${new Date(s.promisedDeliveryAt).toISOString()}`
          : null,
        now,
      );
      messages.push({ key: trackingNumber, value: await this.codec.encode('alerts', alert) });
    }
    await this.producer.send({ topic: this.options.alertsTopic, messages, acks: -1 });
    for (const { kind, trackingNumber } of due) {
      if (kind === 'CLOSED') await this.store.close(trackingNumber, now + this.options.leaseMs);
      else await this.store.ackAlert(kind, trackingNumber);
    }
    this.options.logger.warn(
      {
        delayed: due.filter((d) => d.kind === 'DELAYED').length,
        silent: due.filter((d) => d.kind === 'SILENT').length,
        closed: due.filter((d) => d.kind === 'CLOSED').length,
      },
      'shipment delay alerts raised',
    );
    return due.length;
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }
}
