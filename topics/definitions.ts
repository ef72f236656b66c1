/**
 * Every topic of the pipeline, as code. `topics apply` creates what is missing and reports
 * drift. Names get TOPIC_PREFIX in front, so test runs and environments stay apart.
 */

const DAY_MS = 24 * 60 * 60 * 1000;

export type TopicRole = 'input' | 'output' | 'dead-letter';

export interface TopicDefinition {
  /** Name without prefix. */
  name: string;
  role: TopicRole;
  /** What the message key is; producers must follow it for per-entity ordering. */
  key: string;
  /** Avro schema file in schemas/avro for the value; dead-letter topics keep the original bytes. */
  valueSchema: string | null;
  partitions: number;
  /** Broker-side topic configs that apply checks for drift. */
  config: Record<string, string>;
  description: string;
}

// Inputs keep 30 days so that reconciliation can replay a month of history; the stock-level
// changelog is compacted and is what a Redis rebuild reads.
const inputRetention = String(30 * DAY_MS);
const outputRetention = String(7 * DAY_MS);
const deadLetterRetention = String(30 * DAY_MS);

const inputPartitions = 6;

function deadLetterOf(input: string): TopicDefinition {
  return {
    name: `${input}.dlq`,
    role: 'dead-letter',
    key: `same key as ${input}`,
    valueSchema: null,
    partitions: 3,
    config: { 'cleanup.policy': 'delete', 'retention.ms': deadLetterRetention },
    description: `Rejected ${input} messages: original key and bytes, reason and origin in headers.`,
  };
}

export const topicDefinitions: readonly TopicDefinition[] = [
  {
    name: 'orders',
    role: 'input',
    key: 'orderId',
    valueSchema: 'order-event.avsc',
    partitions: inputPartitions,
    config: { 'cleanup.policy': 'delete', 'retention.ms': inputRetention },
    description: 'Order lifecycle events from checkout, payment and fulfilment.',
  },
  {
    name: 'stock',
    role: 'input',
    key: 'sku',
    valueSchema: 'stock-event.avsc',
    partitions: inputPartitions,
    config: { 'cleanup.policy': 'delete', 'retention.ms': inputRetention },
    description: 'Stock receipts, adjustments and cycle counts from warehouse management.',
  },
  {
    name: 'carrier',
    role: 'input',
    key: 'trackingNumber',
    valueSchema: 'carrier-event.avsc',
    partitions: inputPartitions,
    config: { 'cleanup.policy': 'delete', 'retention.ms': inputRetention },
    description: 'Carrier tracking events.',
  },
  {
    name: 'catalogue',
    role: 'input',
    key: 'sku',
    valueSchema: 'product-update.avsc',
    partitions: 3,
    config: { 'cleanup.policy': 'compact', 'min.compaction.lag.ms': String(60 * 60 * 1000) },
    description: 'SKU reference data (thresholds, safety stock), compacted: latest version per SKU.',
  },
  {
    name: 'reservation-results',
    role: 'output',
    key: 'orderId',
    valueSchema: 'reservation-result.avsc',
    partitions: inputPartitions,
    config: { 'cleanup.policy': 'delete', 'retention.ms': outputRetention },
    description: 'Reserved / rejected / released / committed, per order.',
  },
  {
    name: 'stock-levels',
    role: 'output',
    key: 'sku',
    valueSchema: 'stock-level.avsc',
    partitions: inputPartitions,
    config: { 'cleanup.policy': 'compact', 'min.compaction.lag.ms': String(60 * 60 * 1000) },
    description: 'Changelog of stock per SKU, compacted: rebuilds Redis.',
  },
  {
    name: 'replenishment',
    role: 'output',
    key: 'sku',
    valueSchema: 'replenishment.avsc',
    partitions: 3,
    config: { 'cleanup.policy': 'compact', 'min.compaction.lag.ms': String(60 * 60 * 1000) },
    description: 'Replenishment suggestions per SKU (reorder point, economic order quantity), compacted.',
  },
  {
    name: 'alerts',
    role: 'output',
    key: 'subjectKey (sku, tracking number or consumer group)',
    valueSchema: 'alert.avsc',
    partitions: 3,
    config: { 'cleanup.policy': 'delete', 'retention.ms': String(30 * DAY_MS) },
    description: 'Stock, logistics and consumer-lag alerts.',
  },
  {
    name: 'order-status',
    role: 'output',
    key: 'orderId',
    valueSchema: 'order-status.avsc',
    partitions: inputPartitions,
    config: { 'cleanup.policy': 'delete', 'retention.ms': String(30 * DAY_MS) },
    description: 'Every order state transition (audit trail).',
  },
  {
    name: 'shipment-status',
    role: 'output',
    key: 'trackingNumber',
    valueSchema: 'shipment-status.avsc',
    partitions: inputPartitions,
    config: { 'cleanup.policy': 'delete', 'retention.ms': outputRetention },
    description: 'Shipment state after each carrier event.',
  },
  deadLetterOf('orders'),
  deadLetterOf('stock'),
  deadLetterOf('carrier'),
  deadLetterOf('catalogue'),
];

export type TopicName =
  | 'orders'
  | 'stock'
  | 'carrier'
  | 'catalogue'
  | 'reservation-results'
  | 'stock-levels'
  | 'replenishment'
  | 'alerts'
  | 'order-status'
  | 'shipment-status'
  | 'orders.dlq'
  | 'stock.dlq'
  | 'carrier.dlq'
  | 'catalogue.dlq';

/** Inputs that have a dead-letter topic of their own. */
export const DEAD_LETTER_INPUTS = ['orders', 'stock', 'carrier', 'catalogue'] as const;

export function topicName(prefix: string, name: TopicName): string {
  return `${prefix}${name}`;
}

export function deadLetterTopicFor(input: TopicName): TopicName {
  return `${input}.dlq` as TopicName;
}
