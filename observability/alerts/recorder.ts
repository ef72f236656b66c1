import type { ClickHouseClient } from '@clickhouse/client';
import type { Consumer, Kafka as KafkaClient } from 'kafkajs';
import type { Logger } from '../../runtime/logger.js';
import { DecodeError, type AvroCodec } from '../../schemas/codec.js';
import type { Alert } from '../../schemas/types.js';
import { METRICS_DATABASE, toClickHouseDateTime } from '../clickhouse.js';

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

export interface AlertRecorderOptions {
  kafka: KafkaClient;
  codec: AvroCodec;
  clickhouse: ClickHouseClient;
  alertsTopic: string;
  groupId: string;
  logger: Logger;
}

/**
 * Copies the alerts topic into ClickHouse so the dashboard, which may only read ClickHouse, can
 * show active and recent alerts. Offsets are committed after the insert (at least once; the
 * dashboard's queries group by alert id). While ClickHouse is down the batch fails and kafkajs
 * retries it, so no alert is skipped.
 */
export class AlertRecorder {
  private readonly consumer: Consumer;
  private undecodable = 0;

  constructor(private readonly options: AlertRecorderOptions) {
    this.consumer = options.kafka.consumer({ groupId: options.groupId, retry: { retries: 10 } });
  }

  async start(): Promise<void> {
    const { codec, clickhouse, alertsTopic, logger } = this.options;
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: alertsTopic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: true,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary }) => {
        const rows: AlertRow[] = [];
        for (const m of batch.messages) {
          try {
            rows.push(alertRow(await codec.decode('alerts', m.value)));
          } catch (err) {
            if (!(err instanceof DecodeError)) throw err;
            // alerts are written by our own services; one that does not decode is a bug to see
            // in the log, never a reason to stop recording the rest
            this.undecodable += 1;
            logger.error(
              { offset: m.offset, partition: batch.partition, err: err.message },
              'undecodable alert',
            );
          }
        }
        if (rows.length) {
          await clickhouse.insert({
            table: `${METRICS_DATABASE}.alerts`,
            values: rows,
            format: 'JSONEachRow',
          });
        }
        const last = batch.messages.at(-1);
        if (last) resolveOffset(last.offset);
        await commitOffsetsIfNecessary();
        await heartbeat();
      },
    });
  }

  get undecodableCount(): number {
    return this.undecodable;
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }
}
