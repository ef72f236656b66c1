import type { Producer } from 'kafkajs';
import type { AvroCodec } from '../schemas/codec.js';
import type { Alert, AlertSeverity, AlertSource } from '../schemas/types.js';
import type { Logger } from './logger.js';

/** An alert about the pipeline itself (a stalled partition, a position Redis cannot trust). */
export interface RaisedAlert {
  /** deterministic: the same occurrence raised twice carries the same id */
  id: string;
  kind: string;
  severity: AlertSeverity;
  subject: string;
  message: string;
  attributes?: Record<string, string>;
  value?: number | null;
  source?: AlertSource;
}

export type AlertSink = (alert: RaisedAlert) => Promise<void>;

/**
 * Publishes to the `alerts` topic, where the recorder, the dashboard and webhooks see every
 * other alert. An alert that cannot be published (Kafka is what is down) is logged instead:
 * raising it must never hold up the work it is about.
 */
export function kafkaAlertSink(
  producer: Producer,
  codec: AvroCodec,
  topic: string,
  logger: Logger,
): AlertSink {
  return async (a) => {
    const value: Alert = {
      alertId: a.id,
      source: a.source ?? 'PIPELINE',
      kind: a.kind,
      severity: a.severity,
      subjectKey: a.subject,
      message: a.message,
      value: a.value ?? null,
      attributes: a.attributes ?? {},
      sourceEventId: null,
      raisedAt: Date.now(),
    };
    try {
      await producer.send({
        topic,
        messages: [{ key: a.subject, value: await codec.encode('alerts', value) }],
        acks: -1,
      });
    } catch (err) {
      logger.error(
        { alert: a.kind, subject: a.subject, err: (err as Error).message },
        'could not publish an alert',
      );
    }
  };
}
