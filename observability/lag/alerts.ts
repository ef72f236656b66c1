import type { Producer } from 'kafkajs';
import type { Logger } from '../../runtime/logger.js';
import type { AvroCodec } from '../../schemas/codec.js';
import type { Alert, AlertSeverity } from '../../schemas/types.js';
import { STATUS_RANK, type LagStatus, type LagTransition } from './evaluate.js';
import type { GroupLag } from './monitor.js';

const SEVERITY: Record<LagStatus, AlertSeverity> = {
  OK: 'INFO',
  WARN: 'WARNING',
  REWIND: 'WARNING',
  ERR: 'CRITICAL',
  STALL: 'CRITICAL',
  STOP: 'CRITICAL',
};

/** The alert for a transition: what on-call needs (group, worst partition, messages and seconds behind). */
export function lagAlert(t: LagTransition, lag: GroupLag, now: number): Alert {
  // the partition that decided the group's status, then the one furthest behind
  const worst = [...lag.partitions].sort(
    (a, b) =>
      STATUS_RANK[b.verdict.status] - STATUS_RANK[a.verdict.status] ||
      b.verdict.lagMessages - a.verdict.lagMessages,
  )[0];
  const seconds = worst
    ? `${worst.verdict.lagSeconds.atLeast ? '>=' : ''}${Math.round(worst.verdict.lagSeconds.seconds)}`
    : '0';
  const where = worst ? `${worst.topic}/${worst.partition}` : '-';
  const message =
    t.kind === 'RECOVERED'
      ? `consumer group ${t.group} recovered (was ${t.from})`
      : `consumer group ${t.group} is ${t.to}: ${lag.lagMessages} messages behind; worst ${where} ` +
        `${worst?.verdict.lagMessages ?? 0} messages, ${seconds} s (${worst?.verdict.reason ?? ''})`;
  return {
    alertId: `lag:${t.group}:${t.kind === 'RECOVERED' ? 'RECOVERED' : t.to}:${now}`,
    source: 'LAG',
    kind: t.kind === 'RECOVERED' ? 'RECOVERED' : t.to,
    severity: t.kind === 'RECOVERED' ? 'INFO' : SEVERITY[t.to],
    subjectKey: t.group,
    message,
    value: lag.lagMessages,
    attributes: {
      group: t.group,
      from: t.from,
      to: t.to,
      worstTopic: worst?.topic ?? '',
      worstPartition: String(worst?.partition ?? ''),
      worstLagMessages: String(worst?.verdict.lagMessages ?? 0),
      worstLagSeconds: seconds,
    },
    sourceEventId: null,
    raisedAt: now,
  };
}

export interface AlertDelivery {
  producer: Producer;
  codec: AvroCodec;
  alertsTopic: string;
  webhookUrl?: string;
  logger: Logger;
}

/** Every transition goes to the alerts topic, to the webhook when one is set, and to the log. */
export async function deliverLagAlert(d: AlertDelivery, t: LagTransition, lag: GroupLag): Promise<Alert> {
  const alert = lagAlert(t, lag, Date.now());
  const level = t.kind === 'RECOVERED' ? 'info' : 'warn';
  d.logger[level]({ alert: { kind: alert.kind, group: t.group, lag: lag.lagMessages } }, alert.message);
  await d.producer.send({
    topic: d.alertsTopic,
    messages: [{ key: t.group, value: await d.codec.encode('alerts', alert) }],
    acks: -1,
  });
  if (d.webhookUrl) {
    await fetch(d.webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(alert),
      signal: AbortSignal.timeout(5_000),
    }).catch((err: Error) => d.logger.warn({ err: err.message }, 'lag alert webhook failed'));
  }
  return alert;
}
