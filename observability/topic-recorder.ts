import type { ClickHouseClient } from '@clickhouse/client';
import type { Consumer, KafkaMessage, Kafka as KafkaClient } from 'kafkajs';
import type { Logger } from '../runtime/logger.js';
import { DecodeError } from '../schemas/codec.js';
import { METRICS_DATABASE } from './clickhouse.js';

/** A topic copied into a ClickHouse table, and how one of its records becomes a row. */
export interface RecordedTopic {
  topic: string;
  table: string;
  row(message: KafkaMessage): Promise<Record<string, unknown>>;
}

export interface TopicRecorderOptions {
  kafka: KafkaClient;
  clickhouse: ClickHouseClient;
  groupId: string;
  topics: RecordedTopic[];
  logger: Logger;
}

/**
 * Copies topics into ClickHouse (alerts, dead letters, order transitions) so the dashboard,
 * which may only read ClickHouse, can show them. Offsets are committed after the insert (at
 * least once; the dashboard's queries count distinct ids). While ClickHouse is down the batch
 * fails and kafkajs retries it, so nothing is skipped.
 */
export class TopicRecorder {
  private readonly consumer: Consumer;
  private readonly byTopic: Map<string, RecordedTopic>;
  private undecodable = 0;

  constructor(private readonly options: TopicRecorderOptions) {
    this.consumer = options.kafka.consumer({ groupId: options.groupId, retry: { retries: 10 } });
    this.byTopic = new Map(options.topics.map((t) => [t.topic, t]));
  }

  async start(): Promise<void> {
    const { clickhouse, logger } = this.options;
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [...this.byTopic.keys()], fromBeginning: true });
    await this.consumer.run({
      autoCommit: true,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary }) => {
        const recorded = this.byTopic.get(batch.topic);
        const rows: Record<string, unknown>[] = [];
        for (const m of batch.messages) {
          if (!recorded) break;
          try {
            rows.push(await recorded.row(m));
          } catch (err) {
            if (!(err instanceof DecodeError)) throw err;
            // these topics are written by our own services; a record that does not decode is a
            // bug to see in the log, never a reason to stop recording the rest
            this.undecodable += 1;
            logger.error(
              { topic: batch.topic, offset: m.offset, partition: batch.partition, err: err.message },
              'undecodable record',
            );
          }
        }
        if (recorded && rows.length) {
          await clickhouse.insert({
            table: `${METRICS_DATABASE}.${recorded.table}`,
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
