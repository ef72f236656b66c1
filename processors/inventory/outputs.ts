import type { OutputMessage } from '../../runtime/processor-runner.js';
import type { AvroCodec } from '../../schemas/codec.js';
import type { Alert, AlertSeverity, ReservationResult, StockLevel } from '../../schemas/types.js';
import type { ScriptOutput } from './store.js';

export interface OutputTopics {
  reservationResults: string;
  stockLevels: string;
  alerts: string;
}

const SEVERITY: Record<string, AlertSeverity> = {
  SHORTAGE: 'CRITICAL',
  OUT_OF_STOCK: 'CRITICAL',
  LOW_STOCK: 'WARNING',
  BACK_IN_STOCK: 'INFO',
};

function alertMessage(kind: string, sku: string, available: number, threshold: number): string {
  switch (kind) {
    case 'SHORTAGE':
      return `${sku}: ${-available} units short — holds exceed what is on hand`;
    case 'OUT_OF_STOCK':
      return `${sku}: out of stock`;
    case 'LOW_STOCK':
      return `${sku}: ${available} available, at or below the threshold of ${threshold}`;
    default:
      return `${sku}: back in stock, ${available} available`;
  }
}

/**
 * Turns script outputs into Avro records with deterministic ids: the same applied event always
 * yields the same resultId / alertId, so a re-publication after a crash can be de-duplicated.
 */
export class InventoryOutputs {
  private ids: { results: number; levels: number; alerts: number } | null = null;

  constructor(
    private readonly codec: AvroCodec,
    private readonly topics: OutputTopics,
  ) {}

  async init(): Promise<void> {
    this.ids = {
      results: await this.codec.writerId('reservation-results'),
      levels: await this.codec.writerId('stock-levels'),
      alerts: await this.codec.writerId('alerts'),
    };
  }

  build(
    output: ScriptOutput,
    source: { eventId: string; topic: string; partition: number; offset: number },
    now: number,
  ): OutputMessage {
    const ids = this.ids;
    if (!ids) throw new Error('InventoryOutputs.init() was not awaited');
    const headers = {
      src: `${source.topic}:${source.partition}:${source.offset}`,
      'event.id': source.eventId,
    };
    switch (output.k) {
      case 'result': {
        const value: ReservationResult = {
          resultId: `${source.eventId}:${output.outcome}`,
          orderId: output.oid,
          sourceEventId: source.eventId,
          outcome: output.outcome,
          lines: output.lines,
          shortages: output.shortages,
          reason: output.shortages.length
            ? `insufficient stock for ${output.shortages.map((s) => s.sku).join(', ')}`
            : null,
          processedAt: now,
        };
        return {
          topic: this.topics.reservationResults,
          key: output.oid,
          value: this.codec.encodeWithId('reservation-results', ids.results, value),
          headers,
        };
      }
      case 'alert': {
        const available = output.on - output.rs;
        const value: Alert = {
          alertId: `${source.eventId}:${output.kind}:${output.sku}`,
          source: 'STOCK',
          kind: output.kind,
          severity: SEVERITY[output.kind] ?? 'WARNING',
          subjectKey: output.sku,
          message: alertMessage(output.kind, output.sku, available, output.th),
          value: output.kind === 'SHORTAGE' ? -available : available,
          attributes: {
            onHand: String(output.on),
            reserved: String(output.rs),
            threshold: String(output.th),
          },
          sourceEventId: source.eventId,
          raisedAt: now,
        };
        return {
          topic: this.topics.alerts,
          key: output.sku,
          value: this.codec.encodeWithId('alerts', ids.alerts, value),
          headers,
        };
      }
      case 'level': {
        const value: StockLevel = {
          sku: output.sku,
          onHand: output.on,
          reserved: output.rs,
          available: output.on - output.rs,
          version: output.v,
          sourceEventId: output.src,
          updatedAt: now,
        };
        return {
          topic: this.topics.stockLevels,
          key: output.sku,
          value: this.codec.encodeWithId('stock-levels', ids.levels, value),
          headers: { ...headers, 'event.id': output.src },
        };
      }
    }
  }
}
