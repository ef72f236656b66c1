import type { DeadLetter, InputMessage } from '../../runtime/dead-letter.js';
import { chunkPosition } from '../../runtime/chunk-positions.js';
import type {
  ChunkResult,
  InputChunk,
  OutputMessage,
  ProcessorSpec,
} from '../../runtime/processor-runner.js';
import { DecodeError, type AvroCodec } from '../../schemas/codec.js';
import { verifyOrderSignature } from '../../schemas/order-signature.js';
import type { Alert, OrderStatusChanged } from '../../schemas/types.js';
import { validateOrderEvent, type ValidationLimits } from '../inventory/commands.js';
import type { OrderInput, OrderOutcome, OrderStore, Transition } from './store.js';

export interface OrderTopics {
  orders: string;
  reservationResults: string;
  orderStatus: string;
  alerts: string;
  ordersDeadLetter: string;
}

export interface OrderProcessorDeps {
  groupId: string;
  topics: OrderTopics;
  codec: AvroCodec;
  store: OrderStore;
  limits: ValidationLimits;
  orderSigningSecret?: string;
}

type Parsed = { input: OrderInput } | { skip: string } | { dead: { reason: string; detail: string } };

const REASON_TEXT: Record<string, string> = {
  ORDER_UNKNOWN: 'no such order',
  NOT_RESERVED: 'the order was never reserved',
  CONFLICTING_RESULT: 'contradicts the reservation result already applied',
  ORDER_REJECTED: 'the order was rejected',
  ORDER_CANCELLED: 'the order is cancelled',
  ORDER_EXPIRED: 'the order expired',
  ALREADY_PAID: 'the order is already paid',
  ALREADY_SHIPPED: 'the order has already shipped',
  TOO_MANY_EVENTS: 'the order has more events than are kept per order',
};

/** What each anomaly means and what to do about it: the text of its alert. */
export const ANOMALIES: Record<string, { severity: 'WARNING' | 'CRITICAL'; text: string }> = {
  SHIPPED_UNPAID: { severity: 'CRITICAL', text: 'shipped before it was paid: collect the payment' },
  PAID_REJECTED: { severity: 'CRITICAL', text: 'paid although it was rejected: refund the payment' },
  PAID_CANCELLED: { severity: 'CRITICAL', text: 'paid after it was cancelled: refund the payment' },
  PAID_EXPIRED: { severity: 'CRITICAL', text: 'paid after it expired: refund the payment' },
  SHIPPED_REJECTED: {
    severity: 'CRITICAL',
    text: 'goods shipped although it was rejected (stock deducted): recall the parcel or bill it',
  },
  SHIPPED_CANCELLED: {
    severity: 'CRITICAL',
    text: 'goods shipped after it was cancelled (stock deducted): recall the parcel or bill it',
  },
  SHIPPED_EXPIRED: {
    severity: 'CRITICAL',
    text: 'goods shipped after it expired (stock deducted): recall the parcel or bill it',
  },
  RESERVATION_WITHDRAWN: {
    severity: 'CRITICAL',
    text: 'its stock reservation was withdrawn when the stock processor recovered lost state: check stock before shipping',
  },
  RESERVED_AFTER_REJECTION: {
    severity: 'WARNING',
    text: 'reserved after all when the stock processor recovered lost state: tell the customer (unpaid, it expires)',
  },
  ORDER_STALE: { severity: 'WARNING', text: 'no event for too long: archived' },
};

export function anomalyAlert(
  orderId: string,
  kind: string,
  src: string,
  sourceEventId: string,
  now: number,
): Alert {
  const spec = ANOMALIES[kind] ?? { severity: 'WARNING' as const, text: kind };
  return {
    alertId: `order:${orderId}:${kind}:${src}`,
    source: 'ORDERS',
    kind,
    severity: spec.severity,
    subjectKey: orderId,
    message: `order ${orderId}: ${spec.text} (event ${src})`,
    value: null,
    attributes: { orderId, eventId: src },
    sourceEventId,
    raisedAt: now,
  };
}

export function orderStatusRecord(orderId: string, t: Transition): OrderStatusChanged {
  return {
    transitionId: `${orderId}:${t.n}`,
    orderId,
    fromState: t.from,
    toState: t.to,
    cause: t.cause,
    sourceEventId: t.src,
    reason: t.why,
    changedAt: t.at,
  };
}

/**
 * The order processor's domain: order events and reservation results in, one script call per
 * set of chunks, every transition out to order-status, illegal ones to the dead-letter topic.
 */
export function orderProcessor(deps: OrderProcessorDeps): ProcessorSpec {
  const { topics, codec, store, limits } = deps;

  async function parse(m: InputMessage, now: number): Promise<Parsed> {
    if (m.topic === topics.reservationResults) {
      const decoded = codec.decodeNow('reservation-results', m.value);
      const r = decoded instanceof Promise ? await decoded : decoded;
      if (r.outcome !== 'RESERVED' && r.outcome !== 'REJECTED') return { skip: `result ${r.outcome}` };
      return {
        input: {
          eventId: r.resultId,
          orderId: r.orderId,
          // a decision taken again after the stock processor's Redis lost writes
          cause: r.corrects ? `${r.outcome}_CORRECTION` : r.outcome,
          occurredAt: r.processedAt,
          reason: r.reason,
        },
      };
    }
    const decoded = codec.decodeNow('orders', m.value);
    const e = decoded instanceof Promise ? await decoded : decoded;
    const signature = verifyOrderSignature(e, deps.orderSigningSecret);
    if (signature !== 'ok')
      return { dead: { reason: signature, detail: 'order event signature check failed' } };
    const verdict = validateOrderEvent(e, now, limits);
    if (!verdict.ok) return { dead: { reason: verdict.reason, detail: verdict.detail } };
    return {
      input: {
        eventId: e.eventId,
        orderId: e.orderId,
        cause: e.type,
        occurredAt: e.occurredAt,
        trackingNumber: e.trackingNumber,
        carrier: e.carrier,
        reason: e.reason,
      },
    };
  }

  return {
    name: 'orders',
    groupId: deps.groupId,
    topics: [topics.orders, topics.reservationResults],
    deadLetterTopic: () => topics.ordersDeadLetter,
    appliedPosition: (topic, partition) => store.appliedPosition(topic, partition),

    async handleChunks(chunks: InputChunk[]): Promise<ChunkResult[]> {
      const now = Date.now();
      const statusId = await codec.writerId('order-status');
      const alertId = await codec.writerId('alerts');
      const prepared = [];
      const all: OrderInput[] = [];
      for (const chunk of chunks) {
        const deadLetters: DeadLetter[] = [];
        const items: { message: InputMessage; at: number }[] = [];
        let skipped = 0;
        for (const m of chunk.messages) {
          if (m.key === null) {
            deadLetters.push({ message: m, reason: 'MISSING_KEY', detail: 'message has no key' });
            continue;
          }
          let parsed: Parsed;
          try {
            parsed = await parse(m, now);
          } catch (err) {
            if (!(err instanceof DecodeError)) throw err; // registry down: the runner retries
            parsed = { dead: { reason: err.kind, detail: err.message } };
          }
          if ('dead' in parsed) deadLetters.push({ message: m, ...parsed.dead });
          else if ('skip' in parsed) skipped += 1;
          else {
            items.push({ message: m, at: all.length });
            all.push({ ...parsed.input, source: `${m.topic}:${m.partition}:${m.offset}` });
          }
        }
        prepared.push({ deadLetters, items, skipped });
      }

      const t0 = performance.now();
      const positions = chunks.map(chunkPosition);
      const outcomes: OrderOutcome[] = await store.apply(all, now, positions);
      const redisMs = performance.now() - t0;
      const appliedAt = Date.now();

      return prepared.map((p) => {
        const outputs: OutputMessage[] = [];
        let applied = 0;
        let duplicates = 0;
        let skipped = p.skipped;
        for (const { message, at } of p.items) {
          const input = all[at] as OrderInput;
          const outcome = outcomes[at] as OrderOutcome;
          const headers = {
            src: `${message.topic}:${message.partition}:${message.offset}`,
            'event.id': input.eventId,
          };
          if (outcome.status === 'dup') duplicates += 1;
          else if (outcome.status === 'ok' || outcome.status === 'flag') applied += 1;
          else if (outcome.status !== 'dlq') skipped += 1;
          // a redelivered event's stored outcome is published again: same ids, consumers de-duplicate
          if (outcome.first === 'dlq') {
            const why = outcome.why ?? 'ILLEGAL_TRANSITION';
            p.deadLetters.push({
              message,
              reason: why,
              detail: `${input.cause} not applied to order ${input.orderId}: ${REASON_TEXT[why] ?? why}`,
            });
          }
          for (const t of outcome.transitions) {
            outputs.push({
              topic: topics.orderStatus,
              key: input.orderId,
              value: codec.encodeWithId('order-status', statusId, orderStatusRecord(input.orderId, t)),
              headers,
            });
          }
          for (const anomaly of outcome.alerts) {
            outputs.push({
              topic: topics.alerts,
              key: input.orderId,
              value: codec.encodeWithId(
                'alerts',
                alertId,
                anomalyAlert(input.orderId, anomaly.kind, anomaly.src, input.eventId, now),
              ),
              headers,
            });
          }
        }
        return { outputs, deadLetters: p.deadLetters, applied, duplicates, skipped, redisMs, appliedAt };
      });
    },
  };
}
