import type { Logger } from './logger.js';

/** One row per processed chunk of one partition: what the ClickHouse metrics tables hold. */
export interface BatchMetric {
  at: number;
  processor: string;
  group: string;
  topic: string;
  partition: number;
  eventsIn: number;
  applied: number;
  duplicates: number;
  skipped: number;
  deadLettered: number;
  retries: number;
  processingMs: number;
  redisMs: number;
  /** From handing the chunk's outputs to Kafka to their acknowledgement. */
  publishMs?: number;
  /** Event timestamp to state applied, per event of the chunk. */
  latenciesMs: number[];
}

/**
 * Where batch metrics go. `record` must never block or throw: metrics must not slow or stop
 * stock processing.
 */
export interface MetricsSink {
  record(metric: BatchMetric): void;
  close(): Promise<void>;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

/** Logs one summary line per interval: enough to run without ClickHouse. */
export class LogSummarySink implements MetricsSink {
  private totals = { eventsIn: 0, applied: 0, duplicates: 0, skipped: 0, deadLettered: 0, retries: 0 };
  private latencies: number[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly logger: Logger,
    intervalMs = 30_000,
  ) {
    this.timer = setInterval(() => this.report(), intervalMs);
    this.timer.unref();
  }

  record(m: BatchMetric): void {
    this.totals.eventsIn += m.eventsIn;
    this.totals.applied += m.applied;
    this.totals.duplicates += m.duplicates;
    this.totals.skipped += m.skipped;
    this.totals.deadLettered += m.deadLettered;
    this.totals.retries += m.retries;
    // a bounded sample keeps memory flat at any rate
    for (const l of m.latenciesMs) {
      if (this.latencies.length < 50_000) this.latencies.push(l);
    }
  }

  private report(): void {
    if (this.totals.eventsIn === 0) return;
    const sorted = this.latencies.sort((a, b) => a - b);
    this.logger.info(
      { ...this.totals, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) },
      'processing summary',
    );
    this.totals = { eventsIn: 0, applied: 0, duplicates: 0, skipped: 0, deadLettered: 0, retries: 0 };
    this.latencies = [];
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.report();
  }
}

export class FanOutSink implements MetricsSink {
  constructor(private readonly sinks: MetricsSink[]) {}
  record(m: BatchMetric): void {
    for (const s of this.sinks) s.record(m);
  }
  async close(): Promise<void> {
    await Promise.all(this.sinks.map((s) => s.close()));
  }
}
