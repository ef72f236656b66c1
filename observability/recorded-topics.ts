import type { KafkaMessage } from 'kafkajs';
import { DLQ_HEADERS } from '../runtime/dead-letter.js';
import type { AvroCodec } from '../schemas/codec.js';
import type { Alert } from '../schemas/types.js';
import { DEAD_LETTER_INPUTS, topicName, type TopicName } from '../topics/definitions.js';
import { toClickHouseDateTime } from './clickhouse.js';
import type { RecordedTopic } from './topic-recorder.js';

export interface AlertRow {
  raised_at: string;
  raised_ms: number;
  alert_id: string;
  source: string;
  kind: string;
  severity: string;
  subject_key: string;
  message: string;
  value: number | null;
  attributes_json: string;
}

export function alertRow(alert: Alert): AlertRow {
  return {
    raised_at: toClickHouseDateTime(alert.raisedAt),
    raised_ms: alert.raisedAt,
    alert_id: alert.alertId,
    source: alert.source,
    kind: alert.kind,
    severity: alert.severity,
    subject_key: alert.subjectKey,
    message: alert.message,
    value: alert.value,
    attributes_json: JSON.stringify(alert.attributes),
  };
}

function header(m: KafkaMessage, name: string): string {
  const v = m.headers?.[name];
  return v === undefined ? '' : Array.isArray(v) ? String(v[0] ?? '') : String(v);
}

/** A dead letter's row: its headers say where it came from and why; the bytes stay in Kafka. */
export function deadLetterRow(m: KafkaMessage): Record<string, unknown> {
  const at = Number(header(m, DLQ_HEADERS.at)) || Number(m.timestamp);
  return {
    at: toClickHouseDateTime(at),
    at_ms: at,
    input_topic: header(m, DLQ_HEADERS.topic),
    processor: header(m, DLQ_HEADERS.processor),
    reason: header(m, DLQ_HEADERS.reason),
    original_partition: Number(header(m, DLQ_HEADERS.partition)) || 0,
    original_offset: Number(header(m, DLQ_HEADERS.offset)) || 0,
    message_key: (m.key?.toString('utf8') ?? '').slice(0, 200),
    detail: header(m, DLQ_HEADERS.detail).slice(0, 500),
  };
}

/** What the dashboard needs copied from Kafka: alerts, dead letters, order transitions, stock levels, suggestions. */
export function dashboardTopics(codec: AvroCodec, prefix: string): RecordedTopic[] {
  return [
    {
      topic: topicName(prefix, 'alerts'),
      table: 'alerts',
      row: async (m) => ({ ...alertRow(await codec.decode('alerts', m.value)) }),
    },
    ...DEAD_LETTER_INPUTS.map((input) => ({
      topic: topicName(prefix, `${input}.dlq` as TopicName),
      table: 'dead_letters',
      row: async (m: KafkaMessage) => deadLetterRow(m),
    })),
    {
      topic: topicName(prefix, 'order-status'),
      table: 'order_transitions',
      row: async (m) => {
        const t = await codec.decode('order-status', m.value);
        return {
          changed_at: toClickHouseDateTime(t.changedAt),
          changed_ms: t.changedAt,
          transition_id: t.transitionId,
          order_id: t.orderId,
          to_state: t.toState,
          cause: t.cause,
        };
      },
    },
    {
      topic: topicName(prefix, 'stock-levels'),
      table: 'stock_levels',
      row: async (m) => {
        const l = await codec.decode('stock-levels', m.value);
        return {
          updated_at: toClickHouseDateTime(l.updatedAt),
          updated_ms: l.updatedAt,
          sku: l.sku,
          version: l.version,
          on_hand: l.onHand,
          reserved: l.reserved,
          available: l.available,
          reserved_per_hour: l.reservedPerHour ?? 0,
          sold_per_hour: l.soldPerHour ?? 0,
          stockout_predicted: l.stockoutPredicted ? 1 : 0,
          warehouses_json: JSON.stringify(l.warehouses ?? []),
          source_event_id: l.sourceEventId,
        };
      },
    },
    {
      topic: topicName(prefix, 'replenishment'),
      table: 'replenishment',
      row: async (m) => {
        const r = await codec.decode('replenishment', m.value);
        return {
          updated_at: toClickHouseDateTime(r.updatedAt),
          updated_ms: r.updatedAt,
          suggestion_id: r.suggestionId,
          sku: r.sku,
          reorder_point: r.reorderPoint,
          suggested_quantity: r.suggestedQuantity,
          reorder_now: r.reorderNow ? 1 : 0,
          available: r.available,
          velocity_per_hour: r.velocityPerHour,
          lead_time_hours: r.leadTimeHours,
        };
      },
    },
  ];
}
