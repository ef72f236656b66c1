import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from '../runtime/logger.js';
import type { BatchMetric, MetricsSink } from '../runtime/metrics.js';
import { METRICS_DATABASE, toClickHouseDateTime } from './clickhouse.js';

export interface ClickHouseSinkOptions {
  /** Rows kept while ClickHouse is slow or down; beyond it the oldest rows are dropped. */
  maxBufferedRows?: number;
  flushIntervalMs?: number;
  /** Latency samples kept per batch row (a uniform sample of the batch's events). */
  samplesPerRow?: number;
}

interface Row {
  ts: string;
  processor: string;
  consumer_group: string;
  topic: string;
  partition: number;
  events_in: number;
  applied: number;
  duplicates: number;
  skipped: number;
  dead_lettered: number;
  retries: number;
  processing_ms: number;
  redis_ms: number;
  latency_max_ms: number;
  latency_samples: number[];
}

function sample(values: readonly number[], n: number): number[] {
  if (values.length <= n) return [...values];
  const out: number[] = [];
  const step = values.length / n;
  for (let i = 0; i < n; i++) out.push(values[Math.floor(i * step)] as number);
  return out;
}

/**
 * Batch metrics to ClickHouse without ever slowing the processor: `record` only appends to a
 * bounded in-memory buffer; a timer inserts what is buffered about once a second. When
 * ClickHouse is slow or down the buffer fills and the oldest rows are dropped and counted; one
 * log line per interval says how many. Writing resumes by itself when ClickHouse returns.
 */
export class ClickHouseMetricsSink implements MetricsSink {
  private buffer: Row[] = [];
  private droppedSinceLog = 0;
  private droppedTotal = 0;
  private writtenTotal = 0;
  private flushing: Promise<void> | null = null;
  private failing = false;
  private readonly timer: NodeJS.Timeout;
  private readonly maxRows: number;
  private readonly samplesPerRow: number;

  constructor(
    private readonly client: ClickHouseClient,
    private readonly logger: Logger,
    options: ClickHouseSinkOptions = {},
  ) {
    this.maxRows = options.maxBufferedRows ?? 20_000;
    this.samplesPerRow = options.samplesPerRow ?? 32;
    this.timer = setInterval(() => void this.flush(), options.flushIntervalMs ?? 1_000);
    this.timer.unref();
  }

  record(m: BatchMetric): void {
    const latencyMax = m.latenciesMs.reduce((a, b) => (b > a ? b : a), 0);
    this.buffer.push({
      ts: toClickHouseDateTime(m.at),
      processor: m.processor,
      consumer_group: m.group,
      topic: m.topic,
      partition: m.partition,
      events_in: m.eventsIn,
      applied: m.applied,
      duplicates: m.duplicates,
      skipped: m.skipped,
      dead_lettered: m.deadLettered,
      retries: m.retries,
      processing_ms: Math.round(m.processingMs * 100) / 100,
      redis_ms: Math.round(m.redisMs * 100) / 100,
      latency_max_ms: latencyMax,
      latency_samples: sample(m.latenciesMs, this.samplesPerRow),
    });
    if (this.buffer.length > this.maxRows) {
      const excess = this.buffer.length - this.maxRows;
      this.buffer.splice(0, excess);
      this.droppedSinceLog += excess;
      this.droppedTotal += excess;
    }
  }

  get stats(): { buffered: number; dropped: number; written: number } {
    return { buffered: this.buffer.length, dropped: this.droppedTotal, written: this.writtenTotal };
  }

  /** One insert of everything buffered; never throws, never runs twice at once. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    this.flushing = this.flushOnce().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async flushOnce(): Promise<void> {
    if (this.droppedSinceLog > 0) {
      this.logger.warn(
        { dropped: this.droppedSinceLog, droppedTotal: this.droppedTotal, buffered: this.buffer.length },
        'metrics buffer full: oldest rows dropped',
      );
      this.droppedSinceLog = 0;
    }
    if (this.buffer.length === 0) return;
    const rows = this.buffer;
    this.buffer = [];
    try {
      await this.client.insert({ table: `${METRICS_DATABASE}.batches`, values: rows, format: 'JSONEachRow' });
      this.writtenTotal += rows.length;
      if (this.failing) this.logger.info({ rows: rows.length }, 'metrics writing resumed');
      this.failing = false;
    } catch (err) {
      // put them back in front of what arrived meanwhile; the bound still applies
      this.buffer = rows.concat(this.buffer);
      if (this.buffer.length > this.maxRows) {
        const excess = this.buffer.length - this.maxRows;
        this.buffer.splice(0, excess);
        this.droppedSinceLog += excess;
        this.droppedTotal += excess;
      }
      if (!this.failing) this.logger.warn({ err: (err as Error).message }, 'metrics write failed; buffering');
      this.failing = true;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await Promise.race([this.flush(), new Promise((r) => setTimeout(r, 5_000))]);
    await this.client.close().catch(() => undefined);
  }
}
