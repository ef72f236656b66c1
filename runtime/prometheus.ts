import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import type { BatchMetric, MetricsSink } from './metrics.js';

/**
 * One registry per process, served on the health port's /metrics. Process figures (CPU,
 * memory, event-loop lag, GC) come with it, so a scrape shows whether a slow processor is
 * busy or starved.
 */
export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry });

// Buckets in seconds: a chunk takes milliseconds; an event waits from milliseconds (healthy)
// to minutes (a backlog being worked off), and the alert rules need both ends.
const CHUNK_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const EVENT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

const byTopic = ['processor', 'topic'] as const;
const byProcessor = ['processor'] as const;

function counter(name: string, help: string): Counter<(typeof byTopic)[number]> {
  return new Counter({ name, help, labelNames: byTopic, registers: [metricsRegistry] });
}

const eventsIn = counter('pipeline_events_in_total', 'Input events read, per processor and input topic.');
const eventsApplied = counter(
  'pipeline_events_applied_total',
  'Input events that changed state (applied exactly once).',
);
const eventsDuplicate = counter(
  'pipeline_events_duplicate_total',
  'Input events recognised as already applied (redelivery or re-send).',
);
const eventsSkipped = counter(
  'pipeline_events_skipped_total',
  'Input events valid but without effect (a transition already past, an unknown kind).',
);
const deadLetters = counter(
  'pipeline_dead_letters_total',
  'Input events sent to the dead-letter topic, per processor and input topic.',
);
const retries = counter(
  'pipeline_retries_total',
  'Retries of transient failures (Redis or Kafka unreachable) while processing a chunk.',
);
const chunkSeconds = new Histogram({
  name: 'pipeline_chunk_duration_seconds',
  help: 'Time to process one chunk of one partition: state applied in Redis and outputs acknowledged by Kafka.',
  labelNames: byProcessor,
  buckets: CHUNK_BUCKETS,
  registers: [metricsRegistry],
});
const redisSeconds = new Histogram({
  name: 'pipeline_redis_duration_seconds',
  help: "Redis time of one chunk (the state scripts' round trips).",
  labelNames: byProcessor,
  buckets: CHUNK_BUCKETS,
  registers: [metricsRegistry],
});
const publishSeconds = new Histogram({
  name: 'pipeline_publish_duration_seconds',
  help: "Time from handing a chunk's outputs to Kafka to their acknowledgement.",
  labelNames: byProcessor,
  buckets: CHUNK_BUCKETS,
  registers: [metricsRegistry],
});
const eventLatency = new Histogram({
  name: 'pipeline_event_latency_seconds',
  help: "Event time (the record's timestamp) to state applied, per event.",
  labelNames: byTopic,
  buckets: EVENT_BUCKETS,
  registers: [metricsRegistry],
});

/** Processor figures as Prometheus counters and histograms, read by /metrics. */
export class PrometheusSink implements MetricsSink {
  record(m: BatchMetric): void {
    const topic = { processor: m.processor, topic: m.topic };
    const processor = { processor: m.processor };
    eventsIn.inc(topic, m.eventsIn);
    eventsApplied.inc(topic, m.applied);
    eventsDuplicate.inc(topic, m.duplicates);
    eventsSkipped.inc(topic, m.skipped);
    deadLetters.inc(topic, m.deadLettered);
    retries.inc(topic, m.retries);
    chunkSeconds.observe(processor, m.processingMs / 1000);
    redisSeconds.observe(processor, m.redisMs / 1000);
    if (m.publishMs !== undefined) publishSeconds.observe(processor, m.publishMs / 1000);
    // the labelled child once per chunk, not per event
    const latency = eventLatency.labels(topic);
    for (const ms of m.latenciesMs) latency.observe(ms / 1000);
  }

  async close(): Promise<void> {}
}
