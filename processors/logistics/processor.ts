import type { DeadLetter, InputMessage } from '../../runtime/dead-letter.js';
import { chunkPosition } from '../../runtime/chunk-positions.js';
import type {
  ChunkResult,
  InputChunk,
  OutputMessage,
  ProcessorSpec,
} from '../../runtime/processor-runner.js';
import { DecodeError, type AvroCodec } from '../../schemas/codec.js';
import { orderEvent } from '../../schemas/factories.js';
import { signOrderEvent } from '../../schemas/order-signature.js';
import type { Alert, AlertSeverity, CarrierEvent, ShipmentStatusChanged } from '../../schemas/types.js';
import { checkIdAndTime, ID_PATTERN, type ValidationLimits } from '../inventory/commands.js';
import type { ShipmentOutput, ShipmentStore } from './store.js';

export interface LogisticsTopics {
  carrier: string;
  shipmentStatus: string;
  orders: string;
  alerts: string;
  carrierDeadLetter: string;
}

export interface LogisticsProcessorDeps {
  groupId: string;
  topics: LogisticsTopics;
  codec: AvroCodec;
  store: ShipmentStore;
  limits: ValidationLimits;
  orderSigningSecret?: string;
}

export const LOGISTICS_ALERTS: Record<string, { severity: AlertSeverity; text: string }> = {
  EXCEPTION: { severity: 'WARNING', text: 'carrier reported an exception' },
  LOST: { severity: 'CRITICAL', text: 'carrier reports the parcel lost' },
  DELAYED: { severity: 'WARNING', text: 'past its promised delivery time and not delivered' },
  SILENT: { severity: 'WARNING', text: 'no carrier event for too long' },
  CLOSED: { severity: 'WARNING', text: 'no carrier event for the close time: closed' },
  DELIVERED: { severity: 'INFO', text: 'delivered after an earlier alert' },
  RETURNED: { severity: 'INFO', text: 'returned to sender after an earlier alert' },
};

export function logisticsAlert(
  kind: string,
  s: { trackingNumber: string; carrier: string; orderId: string | null; status: string | null },
  detail: string | null,
  now: number,
): Alert {
  const spec = LOGISTICS_ALERTS[kind] ?? { severity: 'WARNING' as const, text: kind };
  return {
    // one alert of a kind per shipment: re-publications carry the same id
    alertId: `shipment:${s.trackingNumber}:${kind}`,
    source: 'LOGISTICS',
    kind,
    severity: spec.severity,
    subjectKey: s.trackingNumber,
    message: `${s.carrier} ${s.trackingNumber}${s.orderId ? ` (order ${s.orderId})` : ''}: ${spec.text}${detail ? `: ${detail}` : ''}`,
    value: null,
    attributes: { carrier: s.carrier, orderId: s.orderId ?? '', status: s.status ?? '' },
    sourceEventId: null,
    raisedAt: now,
  };
}

export function validateCarrierEvent(e: CarrierEvent, now: number, limits: ValidationLimits) {
  const basic = checkIdAndTime(e.eventId, e.occurredAt, now, limits);
  if (basic) return basic;
  if (!ID_PATTERN.test(e.trackingNumber)) {
    return { ok: false as const, reason: 'INVALID_TRACKING_NUMBER', detail: 'tracking number is not valid' };
  }
  if (!e.carrier.trim()) return { ok: false as const, reason: 'MISSING_CARRIER', detail: 'carrier is empty' };
  if (e.orderId !== null && !ID_PATTERN.test(e.orderId)) {
    return { ok: false as const, reason: 'MISSING_ID', detail: 'order id is not valid' };
  }
  return null;
}

/**
 * The logistics processor's domain: carrier events folded into shipments (one script call per
 * set of chunks), shipment status changes out, the order's SHIPPED and DELIVERED events out to
 * the orders topic, exception and lost-parcel alerts out.
 */
export function logisticsProcessor(deps: LogisticsProcessorDeps): ProcessorSpec {
  const { topics, codec, store, limits } = deps;
  return {
    name: 'logistics',
    groupId: deps.groupId,
    topics: [topics.carrier],
    deadLetterTopic: () => topics.carrierDeadLetter,
    appliedPosition: (topic, partition) => store.appliedPosition(topic, partition),

    async handleChunks(chunks: InputChunk[]): Promise<ChunkResult[]> {
      const now = Date.now();
      const ids = {
        status: await codec.writerId('shipment-status'),
        orders: await codec.writerId('orders'),
        alerts: await codec.writerId('alerts'),
      };
      const prepared = [];
      const all: CarrierEvent[] = [];
      for (const chunk of chunks) {
        const deadLetters: DeadLetter[] = [];
        const items: number[] = [];
        const messages: InputMessage[] = [];
        for (const m of chunk.messages) {
          if (m.key === null) {
            deadLetters.push({ message: m, reason: 'MISSING_KEY', detail: 'message has no key' });
            continue;
          }
          try {
            const decoded = codec.decodeNow('carrier', m.value);
            const e = decoded instanceof Promise ? await decoded : decoded;
            const bad = validateCarrierEvent(e, now, limits);
            if (bad) deadLetters.push({ message: m, reason: bad.reason, detail: bad.detail });
            else {
              items.push(all.length);
              messages.push(m);
              all.push(e);
            }
          } catch (err) {
            if (!(err instanceof DecodeError)) throw err;
            deadLetters.push({ message: m, reason: err.kind, detail: err.message });
          }
        }
        prepared.push({ deadLetters, items, messages });
      }
      const t0 = performance.now();
      const positions = chunks.map(chunkPosition);
      const outcomes = await store.apply(all, now, positions);
      const redisMs = performance.now() - t0;
      const appliedAt = Date.now();

      const build = (e: CarrierEvent, o: ShipmentOutput): OutputMessage => {
        const headers = { 'event.id': e.eventId };
        switch (o.k) {
          case 'status': {
            const value: ShipmentStatusChanged = {
              trackingNumber: e.trackingNumber,
              orderId: e.orderId,
              carrier: e.carrier,
              fromStatus: o.from,
              toStatus: o.to,
              carrierEventId: o.id,
              eventTime: o.at,
              promisedDeliveryAt: e.promisedDeliveryAt,
              changedAt: now,
            };
            const value2 = codec.encodeWithId('shipment-status', ids.status, value);
            return { topic: topics.shipmentStatus, key: e.trackingNumber, value: value2, headers };
          }
          case 'order': {
            const event = signOrderEvent(
              orderEvent({
                eventId: `shipment.${e.trackingNumber}.${o.ty}`,
                orderId: o.oid,
                type: o.ty,
                occurredAt: e.occurredAt,
                trackingNumber: e.trackingNumber,
                carrier: e.carrier,
                promisedDeliveryAt: e.promisedDeliveryAt,
              }),
              deps.orderSigningSecret,
            );
            const key = event.orderId;
            return {
              topic: topics.orders,
              key,
              value: codec.encodeWithId('orders', ids.orders, event),
              headers,
            };
          }
          case 'alert': {
            const alert = logisticsAlert(
              o.kind,
              { trackingNumber: e.trackingNumber, carrier: e.carrier, orderId: e.orderId, status: e.type },
              e.detail,
              now,
            );
            return {
              topic: topics.alerts,
              key: e.trackingNumber,
              value: codec.encodeWithId('alerts', ids.alerts, alert),
              headers,
            };
          }
        }
      };

      return prepared.map((p) => {
        const outputs: OutputMessage[] = [];
        let applied = 0;
        let duplicates = 0;
        p.items.forEach((i, k) => {
          const e = all[i] as CarrierEvent;
          const outcome = outcomes[i];
          if (!outcome) return;
          if (outcome.status === 'dup') duplicates += 1;
          else if (outcome.status === 'dlq') {
            p.deadLetters.push({
              message: p.messages[k] as InputMessage,
              reason: outcome.why ?? 'REJECTED',
              detail: `${outcome.why} (by shipment script)`,
            });
          } else applied += 1;
          // a redelivered event's stored outputs go out again under the same ids
          for (const o of outcome.outputs) outputs.push(build(e, o));
        });
        return { outputs, deadLetters: p.deadLetters, applied, duplicates, skipped: 0, redisMs, appliedAt };
      });
    },
  };
}
