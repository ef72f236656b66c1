import type { Consumer, EachBatchPayload, Kafka, Message, Producer } from 'kafkajs';
import { deadLetterRecord, type DeadLetter, type InputMessage } from './dead-letter.js';
import type { Logger } from './logger.js';
import type { MetricsSink } from './metrics.js';
import { OrderedPublisher } from './ordered-publisher.js';

export interface OutputMessage {
  topic: string;
  key: string;
  value: Buffer;
  headers?: Record<string, string>;
}

/** What a processor's domain made of one chunk of one partition. */
export interface ChunkResult {
  outputs: OutputMessage[];
  deadLetters: DeadLetter[];
  applied: number;
  duplicates: number;
  skipped: number;
  redisMs: number;
  /** When the chunk's state change was applied (epoch ms): the end of the latency figure. */
  appliedAt?: number;
  /** Called once the chunk's outputs are acknowledged by Kafka, before its offsets resolve. */
  onPublished?: () => void;
}

/**
 * A processor is only its domain: which topics it reads and what it makes of a chunk. The
 * runner owns the loop every processor shares: fetch a batch per partition -> hand chunks to
 * the domain -> publish outputs and dead letters -> resolve and commit offsets -> metrics.
 */
export interface InputChunk {
  topic: string;
  partition: number;
  messages: InputMessage[];
}

export interface ProcessorSpec {
  name: string;
  groupId: string;
  topics: string[];
  deadLetterTopic(inputTopic: string): string;
  /**
   * Handles chunks of several partitions at once (at most one chunk per partition), returning a
   * result per chunk in the same order: one Redis call and one produce request serve them all.
   */
  handleChunks(chunks: InputChunk[]): Promise<ChunkResult[]>;
}

export interface RunnerOptions {
  /** Largest number of messages handed to the domain (one Redis call) at a time. */
  maxChunk: number;
  partitionsConcurrently: number;
  logger: Logger;
  metrics: MetricsSink;
  sessionTimeoutMs?: number;
  fetchMinBytes?: number;
  fetchMaxWaitMs?: number;
  /** Wait between retries of a failing chunk grows up to this. */
  maxRetryDelayMs?: number;
  /** Groups of chunks being applied/published at the same time (different partitions). */
  maxInFlight?: number;
}

interface Pending {
  chunk: InputChunk;
  heartbeat: () => Promise<void>;
  resolve: (r: { result: ChunkResult; retries: number }) => void;
  reject: (err: unknown) => void;
}

class StoppingError extends Error {
  override readonly name = 'StoppingError';
}

function toInput(
  topic: string,
  partition: number,
  m: EachBatchPayload['batch']['messages'][number],
): InputMessage {
  return {
    topic,
    partition,
    offset: Number(m.offset),
    key: m.key,
    value: m.value,
    timestamp: Number(m.timestamp),
    headers: m.headers ?? {},
  };
}

export class ProcessorRunner {
  private consumer: Consumer | null = null;
  private stopping = false;
  private queue: Pending[] = [];
  private inFlight = 0;
  private joined = false;
  private crashed: string | null = null;
  private readonly publisher: OrderedPublisher;
  /** Groups whose outputs wait in the publisher: kept alive in the group while it retries. */
  private awaitingPublish = new Set<{ group: Pending[]; retries: number }>();

  constructor(
    private readonly kafka: Kafka,
    private readonly producer: Producer,
    private readonly spec: ProcessorSpec,
    private readonly options: RunnerOptions,
  ) {
    // retried in place, so later chunks' outputs never overtake the failing request's
    this.publisher = new OrderedPublisher((topicMessages) =>
      this.retrying(
        'publish',
        async () => {
          for (const waiting of this.awaitingPublish) {
            waiting.retries += 1;
            await Promise.all(waiting.group.map((p) => p.heartbeat().catch(() => undefined)));
          }
        },
        () => this.producer.sendBatch({ topicMessages, acks: -1 }).then(() => undefined),
      ),
    );
  }

  async start(): Promise<void> {
    const consumer = this.kafka.consumer({
      groupId: this.spec.groupId,
      // one fetch per partition stays small enough that a chunk loop finishes well inside the session
      maxBytesPerPartition: 1024 * 1024,
      // let the broker gather a little before answering: fewer, larger fetches cost the broker
      // far less CPU than a request per message, for a few ms of latency
      minBytes: this.options.fetchMinBytes ?? 16 * 1024,
      maxWaitTimeInMs: this.options.fetchMaxWaitMs ?? 10,
      sessionTimeout: this.options.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: Math.min(3_000, Math.floor((this.options.sessionTimeoutMs ?? 30_000) / 3)),
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, () => {
      this.joined = true;
    });
    // kafkajs restarts the consumer after retriable failures; one it gives up on leaves the
    // process alive but idle, which only a liveness probe can see
    consumer.on(consumer.events.CRASH, (e) => {
      if (!e.payload.restart) this.crashed = e.payload.error.message;
    });
    await consumer.connect();
    for (const topic of this.spec.topics) await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: true,
      autoCommitInterval: 1_000,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConcurrently,
      eachBatch: (payload) => this.eachBatch(payload),
    });
    this.options.logger.info(
      { processor: this.spec.name, group: this.spec.groupId, topics: this.spec.topics },
      'processor started',
    );
  }

  private async eachBatch({
    batch,
    resolveOffset,
    heartbeat,
    commitOffsetsIfNecessary,
    isRunning,
    isStale,
  }: EachBatchPayload): Promise<void> {
    const { topic, partition } = batch;
    const { maxChunk } = this.options;
    for (let i = 0; i < batch.messages.length; i += maxChunk) {
      if (!isRunning() || isStale() || this.stopping) return;
      const chunk = batch.messages.slice(i, i + maxChunk).map((m) => toInput(topic, partition, m));
      const last = chunk[chunk.length - 1] as InputMessage;
      const started = performance.now();
      let outcome: { result: ChunkResult; retries: number };
      try {
        outcome = await this.submit({ topic, partition, messages: chunk }, heartbeat);
      } catch (err) {
        if (err instanceof StoppingError) return; // nothing resolved: the chunk is redelivered
        throw err;
      }
      const { result, retries } = outcome;
      // only now is the chunk safe: state applied (Redis) and its outputs acknowledged (Kafka)
      resolveOffset(String(last.offset));
      const appliedAt = result.appliedAt ?? Date.now();
      this.options.metrics.record({
        at: Date.now(),
        processor: this.spec.name,
        group: this.spec.groupId,
        topic,
        partition,
        eventsIn: chunk.length,
        applied: result.applied,
        duplicates: result.duplicates,
        skipped: result.skipped,
        deadLettered: result.deadLetters.length,
        retries,
        processingMs: performance.now() - started,
        redisMs: result.redisMs,
        latenciesMs: chunk.map((m) => Math.max(0, appliedAt - m.timestamp)),
      });
      await heartbeat();
      await commitOffsetsIfNecessary();
    }
  }

  /**
   * Chunks of different partitions that arrive while a group is being applied wait together and
   * go as the next group: under load a fetch's partitions share one Redis call and one produce
   * request; when idle a chunk goes at once, adding no delay.
   */
  private submit(
    chunk: InputChunk,
    heartbeat: () => Promise<void>,
  ): Promise<{ result: ChunkResult; retries: number }> {
    return new Promise((resolve, reject) => {
      this.queue.push({ chunk, heartbeat, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length > 0 && this.inFlight < (this.options.maxInFlight ?? 4)) {
      // at most one chunk per partition per group: a partition's chunks are sequential anyway
      // and a bounded size: a huge script call would stall Redis for everyone else
      const group: Pending[] = [];
      const rest: Pending[] = [];
      const partitions = new Set<string>();
      let events = 0;
      for (const p of this.queue) {
        const tp = `${p.chunk.topic}:${p.chunk.partition}`;
        if (
          partitions.has(tp) ||
          (group.length > 0 && events + p.chunk.messages.length > this.options.maxChunk)
        ) {
          rest.push(p);
        } else {
          partitions.add(tp);
          group.push(p);
          events += p.chunk.messages.length;
        }
      }
      this.queue = rest;
      this.inFlight += 1;
      void this.processGroup(group).finally(() => {
        this.inFlight -= 1;
        this.pump();
      });
    }
  }

  private async processGroup(group: Pending[]): Promise<void> {
    let retries = 0;
    const onRetry = async () => {
      retries += 1;
      await Promise.all(group.map((p) => p.heartbeat().catch(() => undefined)));
    };
    const what = group.map((p) => `${p.chunk.topic}/${p.chunk.partition}`).join(',');
    try {
      const results = await this.retrying(what, onRetry, () =>
        this.spec.handleChunks(group.map((p) => p.chunk)),
      );
      const waiting = { group, retries: 0 };
      this.awaitingPublish.add(waiting);
      try {
        await this.publish(results);
      } finally {
        this.awaitingPublish.delete(waiting);
      }
      for (const r of results) r.onPublished?.();
      group.forEach((p, i) =>
        p.resolve({ result: results[i] as ChunkResult, retries: retries + waiting.retries }),
      );
    } catch (err) {
      for (const p of group) p.reject(err);
    }
  }

  /**
   * Outputs and dead letters go out in the order their chunks were applied (the ordered
   * publisher), and the chunk waits for their acknowledgement before its offsets resolve.
   */
  private publish(results: ChunkResult[]): Promise<void> {
    const messages: { topic: string; message: Message }[] = [];
    const now = Date.now();
    for (const result of results) {
      for (const o of result.outputs) {
        messages.push({ topic: o.topic, message: { key: o.key, value: o.value, headers: o.headers ?? {} } });
      }
      for (const dl of result.deadLetters) {
        messages.push({
          topic: this.spec.deadLetterTopic(dl.message.topic),
          message: deadLetterRecord(dl, this.spec.name, now),
        });
      }
    }
    return this.publisher.publish(messages);
  }

  /**
   * Retries transient failures (Redis or Kafka unreachable, registry down) in place, keeping
   * the group membership alive, until they succeed or the processor stops. Permanent problems
   * with a message never reach here: the domain turns them into dead letters.
   */
  private async retrying<T>(what: string, onRetry: () => Promise<void>, fn: () => Promise<T>): Promise<T> {
    let delay = 100;
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (this.stopping) throw new StoppingError('stopping');
        const level = attempt === 1 || attempt % 20 === 0 ? 'warn' : 'debug';
        this.options.logger[level]({ err, what, attempt }, 'chunk failed, retrying');
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, this.options.maxRetryDelayMs ?? 5_000);
        await onRetry().catch(() => undefined);
      }
    }
  }

  /** For probes: live unless the consumer gave up; ready once it has joined its group. */
  health(): { live: boolean; ready: boolean; detail: string } {
    if (this.crashed) return { live: false, ready: false, detail: `consumer crashed: ${this.crashed}` };
    if (this.stopping) return { live: true, ready: false, detail: 'stopping' };
    return { live: true, ready: this.joined, detail: this.joined ? 'consuming' : 'joining its group' };
  }

  /** Stops fetching, lets the in-flight chunk finish, commits what was resolved, leaves the group. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.consumer) await this.consumer.disconnect();
    this.consumer = null;
  }
}
