import { commonEnv } from '../../runtime/config.js';
import { readEnv, type EnvSpec, type EnvValues } from '../../runtime/env.js';

export const logisticsEnv = {
  ...commonEnv,
  LOGISTICS_GROUP_ID: {
    kind: 'string',
    default: 'logistics',
    doc: 'Consumer group of the logistics processor.',
  },
  LOGISTICS_KEY_TAG: {
    kind: 'string',
    default: 'shp',
    pattern: /^[A-Za-z0-9_.-]+$/,
    doc: 'Redis hash tag of every shipment key ({shp}:...).',
  },
  LOGISTICS_SILENCE_MS: {
    kind: 'int',
    default: 172_800_000,
    min: 1_000,
    doc: 'A shipment with no carrier event for this long raises a SILENT alert (once).',
  },
  LOGISTICS_CHECK_INTERVAL_MS: {
    kind: 'int',
    default: 5_000,
    min: 100,
    doc: 'How often promised-delivery and silence deadlines are checked.',
  },
  LOGISTICS_FINAL_TTL_SECONDS: {
    kind: 'int',
    default: 31 * 24 * 3600,
    min: 60,
    doc: 'How long delivered, returned and closed shipments stay in Redis (their re-sends caught): at least the retention of the carrier topic.',
  },
  LOGISTICS_CLOSE_AFTER_SECONDS: {
    kind: 'int',
    default: 30 * 24 * 3600,
    min: 60,
    doc: 'A shipment no carrier event moved for this long (lost, silent) is closed with a CLOSED alert.',
  },
  LOGISTICS_MAX_CHUNK: { kind: 'int', default: 500, min: 1, doc: 'Most events per script call.' },
  LOGISTICS_SESSION_TIMEOUT_MS: {
    kind: 'int',
    default: 30_000,
    min: 6_000,
    doc: 'How long a dead instance holds its partitions.',
  },
} as const satisfies Record<string, EnvSpec>;

export type LogisticsConfig = EnvValues<typeof logisticsEnv>;

export function loadLogisticsConfig(env: NodeJS.ProcessEnv = process.env): LogisticsConfig {
  return readEnv(logisticsEnv, env);
}
