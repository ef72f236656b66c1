import { commonEnv } from '../../runtime/config.js';
import { readEnv, type EnvSpec, type EnvValues } from '../../runtime/env.js';
import type { StockStoreOptions } from './store.js';

export const inventoryEnv = {
  ...commonEnv,
  INVENTORY_GROUP_ID: { kind: 'string', default: 'inventory', doc: 'Consumer group of the stock processor.' },
  INVENTORY_KEY_TAG: {
    kind: 'string',
    default: 'inv',
    pattern: /^[A-Za-z0-9_.-]+$/,
    doc: 'Redis hash tag of every inventory key ({inv}:...).',
  },
  INVENTORY_SHARDS: {
    kind: 'int',
    default: 1,
    min: 1,
    max: 1024,
    doc: 'Hash tags the stock state is spread over ({inv.0}..); >1 lets Redis Cluster put SKUs on several shards. Fixed per data set: changing it needs `stock rebuild`.',
  },
  INVENTORY_MAX_CHUNK: {
    kind: 'int',
    default: 500,
    min: 1,
    max: 5000,
    doc: 'Most events applied by one script call.',
  },
  INVENTORY_PARTITIONS_CONCURRENTLY: {
    kind: 'int',
    default: 12,
    min: 1,
    max: 64,
    doc: 'Partitions one instance works on at once; their chunks share Redis calls and produce requests.',
  },
  INVENTORY_EVENT_ID_TTL_SECONDS: {
    kind: 'int',
    default: 31 * 24 * 3600,
    min: 60,
    doc: 'How long stock event ids are remembered to catch re-sends and redrives: at least the retention of the stock topic and its dead letters (30 days).',
  },
  INVENTORY_FINAL_ORDER_TTL_SECONDS: {
    kind: 'int',
    default: 31 * 24 * 3600,
    min: 60,
    doc: 'How long a released/committed/shipped/rejected order is remembered (its re-sends caught): at least the retention of the orders topic.',
  },
  INVENTORY_HOLD_LIMIT_SECONDS: {
    kind: 'int',
    default: 7 * 24 * 3600,
    min: 60,
    doc: 'Stock held for an order longer than this is released (an EXPIRED order event, alert HOLD_ABANDONED).',
  },
  INVENTORY_CHANGELOG_INTERVAL_MS: {
    kind: 'int',
    default: 200,
    min: 10,
    doc: 'How often the stock-levels changelog drain looks for SKUs whose level is still owed.',
  },
  INVENTORY_CHANGELOG_GRACE_MS: {
    kind: 'int',
    default: 5_000,
    min: 0,
    doc: 'A chunk publishes the levels it changed with its outputs; the drain takes over a SKU still owed a record this long after its change (its publisher crashed or stalled).',
  },
  INVENTORY_MAX_QUANTITY: {
    kind: 'int',
    default: 1_000_000,
    min: 1,
    doc: 'Largest quantity one event or order line may carry; larger ones are dead-lettered.',
  },
  INVENTORY_SESSION_TIMEOUT_MS: {
    kind: 'int',
    default: 30_000,
    min: 6_000,
    doc: 'Kafka group session timeout: how long a dead instance holds its partitions.',
  },
  INVENTORY_DEFAULT_WAREHOUSE: {
    kind: 'string',
    default: 'default',
    pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/,
    doc: 'Warehouse of stock events that name none (every SKU of a shop that sends no warehouse stays in it).',
  },
  INVENTORY_WAREHOUSE_PREFERENCE: {
    kind: 'list',
    default: [],
    doc: 'Warehouses an order is served from first, best first (comma-separated); the others follow by name. An order goes whole to the first that can serve every line, else split line by line, all or nothing.',
  },
  INVENTORY_VELOCITY_HALF_LIFE_MINUTES: {
    kind: 'int',
    default: 24 * 60,
    min: 1,
    max: 90 * 24 * 60,
    doc: 'Half-life of the sales velocities (units reserved and sold per hour, in event time): shorter follows changes faster, longer smooths bursts.',
  },
  INVENTORY_STOCKOUT_MARGIN_HOURS: {
    kind: 'int',
    default: 24,
    min: 0,
    max: 24 * 365,
    doc: "STOCKOUT_PREDICTED fires when a SKU's cover (available / velocity) falls below its lead time plus this many hours.",
  },
  INVENTORY_SUGGESTION_INTERVAL_MINUTES: {
    kind: 'int',
    default: 60,
    min: 0,
    doc: "A SKU's moved replenishment suggestion is published again no sooner than this after its last (event time); crossing the reorder point publishes at once.",
  },
  INVENTORY_FORECAST_SWEEP_INTERVAL_MS: {
    kind: 'int',
    default: 60_000,
    min: 1_000,
    doc: 'How often standing stock-out predictions are re-checked as of now (a SKU that stopped selling sends no event to clear its own).',
  },
  INVENTORY_MAX_ORDER_LINES: { kind: 'int', default: 100, min: 1, doc: 'Most lines one order may have.' },
  INVENTORY_MAX_CLOCK_SKEW_MS: {
    kind: 'int',
    default: 24 * 3600 * 1000,
    min: 0,
    doc: 'How far in the future an event time may be.',
  },
} as const satisfies Record<string, EnvSpec>;

export type InventoryConfig = EnvValues<typeof inventoryEnv>;

/** The stock state's layout and rules as configured: what every process that opens it must agree on. */
export function stockStoreOptions(config: InventoryConfig): StockStoreOptions {
  return {
    keyTag: config.INVENTORY_KEY_TAG,
    shards: config.INVENTORY_SHARDS,
    eventIdTtlSeconds: config.INVENTORY_EVENT_ID_TTL_SECONDS,
    finalOrderTtlSeconds: config.INVENTORY_FINAL_ORDER_TTL_SECONDS,
    warehouses: {
      defaultWarehouse: config.INVENTORY_DEFAULT_WAREHOUSE,
      preference: config.INVENTORY_WAREHOUSE_PREFERENCE,
    },
    forecast: {
      halfLifeSeconds: config.INVENTORY_VELOCITY_HALF_LIFE_MINUTES * 60,
      marginHours: config.INVENTORY_STOCKOUT_MARGIN_HOURS,
      resuggestAfterSeconds: config.INVENTORY_SUGGESTION_INTERVAL_MINUTES * 60,
    },
  };
}

export function loadInventoryConfig(env: NodeJS.ProcessEnv = process.env): InventoryConfig {
  return readEnv(inventoryEnv, env);
}
