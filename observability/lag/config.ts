import { commonEnv } from '../../runtime/config.js';
import { readEnv, type EnvSpec, type EnvValues } from '../../runtime/env.js';
import type { LagTarget } from './monitor.js';

export const lagEnv = {
  ...commonEnv,
  LAG_TARGETS: {
    kind: 'string',
    default: 'inventory=stock,orders;orders=orders,reservation-results;logistics=carrier',
    pattern: /^[A-Za-z0-9._-]+=[A-Za-z0-9._,-]+(;[A-Za-z0-9._-]+=[A-Za-z0-9._,-]+)*$/,
    doc: 'Groups to watch and their topics: group=topic,topic;group=topic (topics get TOPIC_PREFIX).',
  },
  LAG_SAMPLE_INTERVAL_MS: { kind: 'int', default: 5_000, min: 200, doc: 'How often offsets are sampled.' },
  LAG_WINDOW: { kind: 'int', default: 10, min: 2, doc: 'Samples per partition the rules look at.' },
  LAG_STALL_AFTER_MS: {
    kind: 'int',
    default: 60_000,
    min: 1_000,
    doc: 'Offsets unmoved this long with lag: STALL, or STOP when the group has no member.',
  },
  LAG_MAX_SECONDS: { kind: 'int', default: 60, min: 1, doc: 'Lag in seconds above which a group is ERR.' },
  LAG_WARN_FLOOR_SECONDS: {
    kind: 'int',
    default: 5,
    min: 0,
    doc: 'Growing lag is a WARN only when the group is also this many seconds behind.',
  },
  LAG_STOP_AFTER_SAMPLES: {
    kind: 'int',
    default: 2,
    min: 1,
    doc: 'Samples in a row finding no live member (with lag) before STOP.',
  },
  LAG_RECOVER_AFTER_SAMPLES: {
    kind: 'int',
    default: 2,
    min: 1,
    doc: 'Samples in a row a group must be OK before its recovery is announced.',
  },
  LAG_ALERT_REPEAT_MS: {
    kind: 'int',
    default: 600_000,
    min: 0,
    doc: 'After a recovery, the same alert for the same group is not sent again within this long (a worse one is).',
  },
  LAG_ALERT_WEBHOOK_FORMAT: {
    kind: 'enum',
    values: ['json', 'alertmanager'] as const,
    default: 'json',
    doc: "The webhook's body: the alert as JSON, or Alertmanager's webhook payload (version 4).",
  },
  LAG_ALERT_WEBHOOK_URL: {
    kind: 'url',
    protocols: ['http', 'https'],
    secret: true,
    doc: 'Optional: every lag alert is also POSTed here as JSON.',
  },
} as const satisfies Record<string, EnvSpec>;

export type LagConfig = EnvValues<typeof lagEnv>;

export function loadLagConfig(env: NodeJS.ProcessEnv = process.env): LagConfig {
  return readEnv(lagEnv, env);
}

export function parseTargets(spec: string, prefix: string): LagTarget[] {
  return spec.split(';').map((part) => {
    const [group = '', topics = ''] = part.split('=');
    return { group, topics: topics.split(',').map((t) => prefix + t) };
  });
}
