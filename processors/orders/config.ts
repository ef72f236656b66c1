import { commonEnv } from '../../runtime/config.js';
import { readEnv, type EnvSpec, type EnvValues } from '../../runtime/env.js';

export const ordersEnv = {
  ...commonEnv,
  ORDERS_GROUP_ID: { kind: 'string', default: 'orders', doc: 'Consumer group of the order processor.' },
  ORDERS_KEY_TAG: {
    kind: 'string',
    default: 'ord',
    pattern: /^[A-Za-z0-9_.-]+$/,
    doc: 'Redis hash tag of every order key ({ord}:...).',
  },
  ORDERS_PAYMENT_DEADLINE_MS: {
    kind: 'int',
    default: 1_800_000,
    min: 1_000,
    doc: 'A reserved order not paid within this time expires and its stock is released.',
  },
  ORDERS_EXPIRY_SWEEP_MS: {
    kind: 'int',
    default: 1_000,
    min: 100,
    doc: 'How often due deadlines are checked.',
  },
  ORDERS_FINAL_TTL_SECONDS: {
    kind: 'int',
    default: 31 * 24 * 3600,
    min: 60,
    doc: 'How long delivered, cancelled, rejected, expired and archived orders stay in Redis (their re-sends caught): at least the retention of the orders topic.',
  },
  ORDERS_STALE_AFTER_SECONDS: {
    kind: 'int',
    default: 30 * 24 * 3600,
    min: 60,
    doc: 'A placed, paid or shipped order with no event for this long is archived with an ORDER_STALE alert.',
  },
  ORDERS_MAX_CHUNK: { kind: 'int', default: 500, min: 1, doc: 'Most events per script call.' },
  ORDERS_SESSION_TIMEOUT_MS: {
    kind: 'int',
    default: 30_000,
    min: 6_000,
    doc: 'How long a dead instance holds its partitions.',
  },
} as const satisfies Record<string, EnvSpec>;

export type OrdersConfig = EnvValues<typeof ordersEnv>;

export function loadOrdersConfig(env: NodeJS.ProcessEnv = process.env): OrdersConfig {
  return readEnv(ordersEnv, env);
}
