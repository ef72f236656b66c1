import { createHash } from 'node:crypto';
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

/** What to look at first, by state: the message on-call reads at 3 a.m. */
const HINT: Record<LagStatus, string> = {
  OK: '',
  WARN: "consumers are slower than producers: check the processors' throughput and Redis latency on the dashboard; add instances (up to the partition count) if it keeps growing",
  REWIND:
    'the committed offset went back: an operator reset it, or the topic was recreated (see position show)',
  ERR: "far behind: check the processors' logs and /readyz, Redis and Kafka latency; add instances (up to the partition count)",
  STALL:
    'consumers are alive but not committing: check their /readyz and logs for PROCESSOR_STALLED, POSITION_AHEAD_OF_LOG or an unreachable Redis',
  STOP: 'no process consumes this group: start its processor (or see why it exited in its logs)',
};

/** The alert for a transition: what is wrong, since when, how far behind, and where to look. */
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
  const since = new Date(t.since).toISOString();
  const message =
    t.kind === 'RECOVERED'
      ? `consumer group ${t.group} recovered (was ${t.from}); caught up at ${since}`
      : `consumer group ${t.group} is ${t.to} since ${since}: ${lag.lagMessages} messages behind; worst ${where} ` +
        `${worst?.verdict.lagMessages ?? 0} messages, ${seconds} s (${worst?.verdict.reason ?? ''}). ${HINT[t.to]}`;
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
      since,
      hint: t.kind === 'RECOVERED' ? '' : HINT[t.to],
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
  /** json (default): the alert itself; alertmanager: Alertmanager's webhook payload */
  webhookFormat?: 'json' | 'alertmanager';
  logger: Logger;
}

/**
 * The alert as Alertmanager's webhook receivers expect it (payload version 4): one alert per
 * group, firing or resolved, labels for routing and silencing, the message as annotations.
 * The fingerprint is the group's, so a receiver pairs a resolution with what it resolves.
 */
export function alertmanagerPayload(alert: Alert, t: LagTransition): Record<string, unknown> {
  const resolved = t.kind === 'RECOVERED';
  const labels = {
    alertname: 'ConsumerLag',
    consumer_group: t.group,
    status: resolved ? t.from : t.to,
    severity: (resolved ? SEVERITY[t.from] : alert.severity).toLowerCase(),
    source: 'pipeline-lag-monitor',
  };
  const groupKey = `{}:{alertname="ConsumerLag",consumer_group="${t.group}"}`;
  return {
    version: '4',
    groupKey,
    truncatedAlerts: 0,
    status: resolved ? 'resolved' : 'firing',
    receiver: 'pipeline',
    groupLabels: { alertname: 'ConsumerLag', consumer_group: t.group },
    commonLabels: labels,
    commonAnnotations: { summary: alert.message, hint: alert.attributes.hint ?? '' },
    externalURL: '',
    alerts: [
      {
        status: resolved ? 'resolved' : 'firing',
        labels,
        annotations: { summary: alert.message, hint: alert.attributes.hint ?? '' },
        startsAt: new Date(resolved ? alert.raisedAt : t.since).toISOString(),
        endsAt: resolved ? new Date(alert.raisedAt).toISOString() : '0001-01-01T00:00:00Z',
        generatorURL: '',
        fingerprint: createHash('sha256').update(groupKey).digest('hex').slice(0, 16),
      },
    ],
  };
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
      body: JSON.stringify(d.webhookFormat === 'alertmanager' ? alertmanagerPayload(alert, t) : alert),
      signal: AbortSignal.timeout(5_000),
    }).catch((err: Error) => d.logger.warn({ err: err.message }, 'lag alert webhook failed'));
  }
  return alert;
}
