import type { Admin, Consumer, EachBatchPayload, Kafka, Message, Producer } from 'kafkajs';
import { deadLetterRecord, type DeadLetter, type InputMessage } from './dead-letter.js';
import { classifyError, errorText } from './errors.js';
import type { Logger } from './logger.js';
import type { MetricsSink } from './metrics.js';
import { OrderedPublisher } from './ordered-publisher.js';
import { PositionLostError } from './chunk-positions.js';
import type { AlertSink } from './pipeline-alerts.js';
import { StallWatch } from './stall-watch.js';

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
  /** Set by the runner: how long the chunk's outputs took to be acknowledged. */
  publishMs?: number;
  /** When the chunk's state change was applied (epoch ms): the end of the latency figure. */
  appliedAt?: number;
  /**
   * Called once the chunk's outputs are acknowledged by Kafka, before its offsets resolve. A
   * failure here is the domain's to absorb (it is logged, the chunk still counts as done).
   */
  onPublished?: () => void | Promise<void>;
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
  /**
   * The last offset this chunk stands for. The domain records it as the partition's applied
   * position in the same atomic call as the state, whether or not every message changed state
   * (dead letters, skipped events, or none at all when the runner isolated a poisoned event).
   */
  upTo: number;
  /**
   * The last offset of this partition this instance applied and saw published, when it has
   * one: the domain's script refuses the chunk (PositionLostError) if Redis' position is below
   * it, whenever the call reaches Redis.
   */
  expectedApplied?: number;
}

/** Where Redis says a partition's events have been applied up to, over every shard. */
export interface AppliedPosition {
  /** the lowest shard's watermark: everything after it may not be applied everywhere (-1: none) */
  lowest: number;
  /** the highest shard's watermark: no shard has seen anything after it */
  highest: number;
}

export interface ProcessorSpec {
  name: string;
  groupId: string;
  topics: string[];
  deadLetterTopic(inputTopic: string): string;
  /**
   * Handles chunks of several partitions at once (at most one chunk per partition), returning a
   * result per chunk in the same order: one Redis call and one produce request serve them all.
   * A thrown error is classified (errors.ts): transient ones are retried, deterministic ones
   * isolate the event that causes them. Scripts check before they write, so a failed call
   * leaves nothing of its events applied.
   */
  handleChunks(chunks: InputChunk[]): Promise<ChunkResult[]>;
  /** Redis' applied watermark of a partition: what the runner resumes from on assignment. */
  appliedPosition(topic: string, partition: number): Promise<AppliedPosition>;
  /**
   * Offsets `from`..`to` of this partition were applied and published before, but Redis no longer
   * has them (it lost writes): they are applied again, and a decision that now differs from the
   * published one must go out as a correction.
   */
  replaying?(topic: string, partition: number, from: number, to: number): void;
}

export interface RunnerOptions {
  /** Largest number of messages handed to the domain (one Redis call) at a time. */
  maxChunk: number;
  partitionsConcurrently: number;
  logger: Logger;
  metrics: MetricsSink;
  /** Where alerts about stalls and refused partitions go (the alerts topic); none: only logged. */
  alerts?: AlertSink;
  sessionTimeoutMs?: number;
  fetchMinBytes?: number;
  fetchMaxWaitMs?: number;
  /** Wait between retries of a failing chunk grows up to this. */
  maxRetryDelayMs?: number;
  /** Groups of chunks being applied/published at the same time (different partitions). */
  maxInFlight?: number;
  /** How often acknowledged offsets are committed (default 1 s). */
  commitIntervalMs?: number;
  /** A partition with work and no progress for this long is stalled: not ready, alert. */
  stallAfterMs?: number;
  /** Attempts before a failure the classifier does not know is treated as deterministic. */
  unknownErrorAttempts?: number;
  /**
   * The domain's Redis client: when it connects again (a restart or failover while this
   * instance held its partitions, perhaps idle), every partition's position is checked against
   * Redis before its next chunk is applied.
   */
  redis?: { status?: string; on(event: 'ready', listener: () => void): unknown };
}

/** A chunk whose state is applied: `published` settles once Kafka acknowledged its outputs. */
interface Applied {
  result: ChunkResult;
  retries: number;
  published: Promise<void>;
}

interface Pending {
  chunk: InputChunk;
  heartbeat: () => Promise<void>;
  resolve: (r: Applied) => void;
  reject: (err: unknown) => void;
}

class StoppingError extends Error {
  override readonly name = 'StoppingError';
}

/** A chunk failed in a way retrying will not change: its events are isolated. */
class IsolateError extends Error {
  override readonly name = 'IsolateError';
  constructor(readonly failure: unknown) {
    super(errorText(failure));
  }
}

interface Refusal {
  topic: string;
  partition: number;
  reason: string;
  since: number;
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

const emptyResult = (): ChunkResult => ({
  outputs: [],
  deadLetters: [],
  applied: 0,
  duplicates: 0,
  skipped: 0,
  redisMs: 0,
});

function mergeResults(a: ChunkResult, b: ChunkResult): ChunkResult {
  const merged: ChunkResult = {
    outputs: [...a.outputs, ...b.outputs],
    deadLetters: [...a.deadLetters, ...b.deadLetters],
    applied: a.applied + b.applied,
    duplicates: a.duplicates + b.duplicates,
    skipped: a.skipped + b.skipped,
    redisMs: a.redisMs + b.redisMs,
    onPublished: async () => {
      await Promise.all([a.onPublished?.(), b.onPublished?.()]);
    },
  };
  const at = Math.max(a.appliedAt ?? 0, b.appliedAt ?? 0);
  if (at > 0) merged.appliedAt = at;
  return merged;
}

export class ProcessorRunner {
  private consumer: Consumer | null = null;
  private admin: Admin | null = null;
  private stopping = false;
  private queue: Pending[] = [];
  private inFlight = 0;
  private joined = false;
  private crashed: string | null = null;
  private readonly publisher: OrderedPublisher;
  /** Groups whose outputs wait in the publisher: kept alive in the group while it retries. */
  private awaitingPublish = new Set<{ group: Pending[]; retries: number }>();
  /** Per assigned partition: the check of its position against Redis (once per assignment). */
  private readonly positioning = new Map<string, Promise<'go' | 'refused'>>();
  /** The last offset this instance applied and saw published, per partition of this generation. */
  private readonly lastApplied = new Map<string, number>();
  /**
   * Counts the Redis client's reconnections; a partition whose position was last checked at an
   * older count is checked before its next chunk (a chunk still in flight when the connection
   * dropped counts too: its partition is checked at the one after).
   */
  private redisEpoch = 0;
  private readonly checkedEpoch = new Map<string, number>();
  /** Partitions this instance refuses to consume (Redis is ahead of the log). */
  private readonly refused = new Map<string, Refusal>();
  private readonly stalls: StallWatch;
  private readonly lastError = new Map<string, string>();
  private timer: NodeJS.Timeout | null = null;
  private lastRefusalCheck = 0;
  /**
   * Offsets are committed by the runner, not by kafkajs: a chunk's offset resolves (the next
   * fetch goes on) as soon as its state is applied, but it is committed only once its outputs
   * are acknowledged. Per partition of this generation: the next offset to commit, and the last
   * one committed.
   */
  private readonly acked = new Map<string, number>();
  private readonly committed = new Map<string, number>();
  private generation = 0;
  private lastCommit = 0;
  private committing: Promise<void> | null = null;
  /** Groups of chunks being applied or published: stop() waits for them. */
  private readonly groupsInFlight = new Set<Promise<void>>();

  constructor(
    private readonly kafka: Kafka,
    private readonly producer: Producer,
    private readonly spec: ProcessorSpec,
    private readonly options: RunnerOptions,
  ) {
    // a 'ready' after the client had been connected follows a lost connection
    let connectedBefore = options.redis?.status === 'ready';
    options.redis?.on('ready', () => {
      if (connectedBefore) this.redisEpoch += 1;
      connectedBefore = true;
    });
    // retried in place, so later chunks' outputs never overtake the failing request's
    this.publisher = new OrderedPublisher((topicMessages) =>
      this.retryingTransient(
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
    this.stalls = new StallWatch(
      options.stallAfterMs ?? 60_000,
      (tp, ms) => this.onStall(tp, ms),
      (tp, ms) => this.onRecover(tp, ms),
    );
  }

  private get log(): Logger {
    return this.options.logger;
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
    // what is acknowledged goes in before the partitions may move to another member
    consumer.on(consumer.events.REBALANCING, () => void this.commitAcked());
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      this.joined = true;
      // publications of the previous generation no longer commit: their partitions may belong
      // to another member now, whose commits they would undo
      this.generation += 1;
      this.acked.clear();
      this.committed.clear();
      // a pause outlives assignments in kafkajs: a refused partition is checked afresh instead
      for (const r of this.refused.values()) consumer.resume([{ topic: r.topic, partitions: [r.partition] }]);
      this.refused.clear();
      for (const tp of this.stalls.stalled) this.stalls.forget(tp);
      // a new generation: every assigned partition's position is checked against Redis before
      // its first chunk is applied (eachBatch waits for it), including partitions with nothing
      // new to fetch: Redis may have lost writes below the committed offset
      this.positioning.clear();
      this.lastApplied.clear();
      const assignment = e.payload.memberAssignment as Record<string, number[]>;
      for (const [topic, partitions] of Object.entries(assignment)) {
        for (const partition of partitions) {
          const check = this.checkPosition(topic, partition).catch((err: unknown) => {
            if (!(err instanceof StoppingError))
              this.log.error({ err: errorText(err), topic, partition }, 'position check failed');
            return 'refused' as const;
          });
          this.positioning.set(`${topic}:${partition}`, check);
        }
      }
    });
    // kafkajs restarts the consumer after retriable failures; one it gives up on leaves the
    // process alive but idle, which only a liveness probe can see
    consumer.on(consumer.events.CRASH, (e) => {
      if (!e.payload.restart) this.crashed = e.payload.error.message;
    });
    await consumer.connect();
    for (const topic of this.spec.topics) await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConcurrently,
      eachBatch: (payload) => this.eachBatch(payload),
    });
    this.timer = setInterval(() => this.tick(), 1_000);
    this.timer.unref();
    this.log.info(
      { processor: this.spec.name, group: this.spec.groupId, topics: this.spec.topics },
      'processor started',
    );
  }

  private tick(): void {
    this.stalls.check();
    // the tail of a burst is committed even when no further chunk comes
    void this.commitAcked();
    if (this.refused.size > 0 && Date.now() - this.lastRefusalCheck > 10_000) {
      this.lastRefusalCheck = Date.now();
      void this.recheckRefused().catch((err: unknown) =>
        this.log.warn({ err: errorText(err) }, 'could not re-check refused partitions'),
      );
    }
  }

  private async eachBatch({
    batch,
    resolveOffset,
    heartbeat,
    isRunning,
    isStale,
  }: EachBatchPayload): Promise<void> {
    const { topic, partition } = batch;
    const tp = `${topic}:${partition}`;
    const { maxChunk } = this.options;
    if (batch.messages.length === 0) return;
    const positioning = this.positioning.get(tp);
    if (positioning) {
      this.stalls.busy(tp);
      const verdict = await positioning;
      // nothing resolved: after a seek the fetch starts again where the check decided
      if (verdict !== 'go' || isStale()) {
        this.stalls.forget(tp);
        return;
      }
    }
    for (let i = 0; i < batch.messages.length; i += maxChunk) {
      if (!isRunning() || isStale() || this.stopping) return;
      const messages = batch.messages.slice(i, i + maxChunk).map((m) => toInput(topic, partition, m));
      const last = messages[messages.length - 1] as InputMessage;
      const applied = this.lastApplied.get(tp);
      const chunk: InputChunk = {
        topic,
        partition,
        messages,
        upTo: last.offset,
        ...(applied !== undefined ? { expectedApplied: applied } : {}),
      };
      const started = performance.now();
      let outcome: Applied;
      this.stalls.busy(tp);
      try {
        outcome = await this.submit(chunk, heartbeat);
      } catch (err) {
        if (err instanceof StoppingError) return; // nothing resolved: the chunk is redelivered
        if (err instanceof PositionLostError) {
          // this chunk was not applied: fetch again from where Redis stands (or from the chunk,
          // for a partition that only shared the call with a lost one)
          const resumeAt = err.resumeAt.get(tp) ?? (messages[0] as InputMessage).offset;
          if (err.resumeAt.has(tp)) {
            const applied = this.lastApplied.get(tp);
            this.log.warn(
              { topic, partition, resumeAt, applied },
              'Redis lost writes this instance had applied (failover to a lagging replica?): applying them again',
            );
            // what was published for those events may now be decided otherwise: as corrections
            this.spec.replaying?.(topic, partition, resumeAt, applied ?? resumeAt - 1);
          }
          this.lastApplied.delete(tp);
          this.consumer?.seek({ topic, partition, offset: String(resumeAt) });
          this.stalls.forget(tp);
          return;
        }
        throw err;
      }
      const { result, published } = outcome;
      // the state is applied and durable: the fetch may go on while the outputs are published
      // (the ordered publisher keeps them in order); the offset is committed once they are acknowledged
      resolveOffset(String(last.offset));
      this.lastApplied.set(tp, last.offset);
      this.stalls.progressed(tp);
      const generation = this.generation;
      void published.then(
        () => {
          if (generation === this.generation && last.offset + 1 > (this.acked.get(tp) ?? -1)) {
            this.acked.set(tp, last.offset + 1);
          }
          // retries while publishing count too
          this.recordMetrics(chunk, result, outcome.retries, started);
        },
        // not acknowledged (the processor is stopping): never committed, so redelivered
        () => undefined,
      );
      await heartbeat();
      if (Date.now() - this.lastCommit >= (this.options.commitIntervalMs ?? 1_000)) await this.commitAcked();
    }
  }

  private recordMetrics(chunk: InputChunk, result: ChunkResult, retries: number, started: number): void {
    const { topic, partition, messages } = chunk;
    const appliedAt = result.appliedAt ?? Date.now();
    this.options.metrics.record({
      at: Date.now(),
      processor: this.spec.name,
      group: this.spec.groupId,
      topic,
      partition,
      eventsIn: messages.length,
      applied: result.applied,
      duplicates: result.duplicates,
      skipped: result.skipped,
      deadLettered: result.deadLetters.length,
      retries,
      processingMs: performance.now() - started,
      redisMs: result.redisMs,
      ...(result.publishMs !== undefined ? { publishMs: result.publishMs } : {}),
      latenciesMs: messages.map((m) => Math.max(0, appliedAt - m.timestamp)),
    });
  }

  /**
   * Commits what is acknowledged and not yet committed. One commit at a time: a later call
   * while one runs waits for it and then commits what arrived meanwhile. A failed commit (a
   * rebalance under way, the coordinator moving) only costs a replay of applied events, which
   * the scripts recognise, so it is logged and left to the next one.
   */
  private async commitAcked(): Promise<void> {
    while (this.committing) await this.committing;
    const consumer = this.consumer;
    const offsets: { topic: string; partition: number; offset: string }[] = [];
    for (const [tp, next] of this.acked) {
      if (next <= (this.committed.get(tp) ?? -1)) continue;
      const cut = tp.lastIndexOf(':');
      offsets.push({ topic: tp.slice(0, cut), partition: Number(tp.slice(cut + 1)), offset: String(next) });
    }
    this.lastCommit = Date.now();
    if (!consumer || offsets.length === 0) return;
    const generation = this.generation;
    this.committing = consumer
      .commitOffsets(offsets)
      .then(() => {
        if (generation !== this.generation) return;
        for (const o of offsets) {
          const tp = `${o.topic}:${o.partition}`;
          if (Number(o.offset) > (this.committed.get(tp) ?? -1)) this.committed.set(tp, Number(o.offset));
        }
      })
      .catch((err: unknown) =>
        this.log.debug({ err: errorText(err) }, 'offset commit failed; the next one retries'),
      )
      .finally(() => {
        this.committing = null;
      });
    await this.committing;
  }

  /**
   * Redis, not the group's committed offset, decides where a partition resumes. Redis may have
   * lost writes the group had already committed (a failover to a lagging replica, a restore
   * from an older copy): then the events after Redis' watermark are fetched again. A watermark
   * at or beyond the end of the log means the log is not the one Redis applied (a topic deleted
   * and recreated): nothing is skipped silently, the partition is refused until an operator
   * resets its position or rebuilds the state.
   */
  private async checkPosition(topic: string, partition: number): Promise<'go' | 'refused'> {
    const tp = `${topic}:${partition}`;
    const noop = async () => undefined;
    const position = await this.retryingTransient(`position ${tp}`, noop, () =>
      this.spec.appliedPosition(topic, partition),
    );
    const admin = await this.retryingTransient(`admin ${tp}`, noop, () => this.adminClient());
    const [bounds, committed] = await this.retryingTransient(`offsets ${tp}`, noop, () =>
      Promise.all([
        admin.fetchTopicOffsets(topic),
        admin.fetchOffsets({ groupId: this.spec.groupId, topics: [topic] }),
      ]),
    );
    const own = bounds.find((o) => o.partition === partition);
    const logStart = Number(own?.low ?? 0);
    const logEnd = Number(own?.high ?? 0);
    const groupOffset = Number(committed[0]?.partitions.find((p) => p.partition === partition)?.offset ?? -1);
    // where the consumer would start: the committed offset, or the log's start for a new group
    const resumesAt = groupOffset >= 0 ? groupOffset : logStart;
    if (position.highest >= logEnd && position.highest >= 0) {
      this.refuse(
        topic,
        partition,
        `Redis has applied offset ${position.highest} of ${tp}, but the log ends at ${logEnd - 1}: ` +
          'the topic was recreated or lost data',
      );
      return 'refused';
    }
    if (position.lowest + 1 >= resumesAt) return 'go';
    if (position.lowest >= 0 && position.lowest + 1 < logStart) {
      this.refuse(
        topic,
        partition,
        `Redis has applied ${tp} up to offset ${position.lowest}, but the log now starts at ${logStart}: ` +
          `the events ${position.lowest + 1}..${logStart - 1} were deleted before they were applied`,
      );
      return 'refused';
    }
    const from = Math.max(position.lowest + 1, logStart);
    this.log.warn(
      { topic, partition, redisApplied: position.lowest, groupCommitted: resumesAt, replayFrom: from },
      position.lowest < 0
        ? 'Redis holds no position for this partition: applying it again from the start of the log'
        : 'Redis is behind the committed offset (it lost writes): applying the missing events again',
    );
    if (resumesAt - 1 >= from) this.spec.replaying?.(topic, partition, from, resumesAt - 1);
    // batches fetched before the seek are stale (eachBatch drops them); the next fetch starts here
    this.consumer?.seek({ topic, partition, offset: String(from) });
    return 'go';
  }

  private async adminClient(): Promise<Admin> {
    if (!this.admin) {
      const admin = this.kafka.admin();
      await admin.connect();
      this.admin = admin;
    }
    return this.admin;
  }

  private refuse(topic: string, partition: number, reason: string): void {
    const tp = `${topic}:${partition}`;
    this.consumer?.pause([{ topic, partitions: [partition] }]);
    if (this.refused.has(tp)) return;
    const since = Date.now();
    this.refused.set(tp, { topic, partition, reason, since });
    const remedy =
      `stop every ${this.spec.name} processor, then either set where it resumes in the new log ` +
      `("npm run pipeline -- position reset --processor ${this.spec.name} --topic ${topic} --partition ${partition} --resume-at start") ` +
      `or rebuild the state ("npm run pipeline -- stock rebuild" for the stock processor)`;
    this.log.error({ topic, partition, group: this.spec.groupId, remedy }, `partition refused: ${reason}`);
    void this.options.alerts?.({
      id: `pipeline:${this.spec.groupId}:${tp}:POSITION:${since}`,
      kind: 'POSITION_AHEAD_OF_LOG',
      severity: 'CRITICAL',
      subject: `${this.spec.groupId}/${tp}`,
      message: `${this.spec.name}: ${reason}. Not consuming ${tp}; to resume, ${remedy}`,
      attributes: { group: this.spec.groupId, topic, partition: String(partition) },
    });
  }

  /** A refused partition resumes by itself once an operator reset its position. */
  private async recheckRefused(): Promise<void> {
    const admin = await this.adminClient();
    for (const [tp, r] of this.refused) {
      const position = await this.spec.appliedPosition(r.topic, r.partition);
      const offsets = await admin.fetchTopicOffsets(r.topic);
      const high = Number(offsets.find((o) => o.partition === r.partition)?.high ?? 0);
      if (position.highest < high) {
        this.refused.delete(tp);
        this.positioning.delete(tp);
        this.consumer?.resume([{ topic: r.topic, partitions: [r.partition] }]);
        this.log.warn(
          { topic: r.topic, partition: r.partition },
          'refused partition resumes: its position was reset',
        );
        void this.options.alerts?.({
          id: `pipeline:${this.spec.groupId}:${tp}:POSITION:${r.since}:resolved`,
          kind: 'POSITION_RESOLVED',
          severity: 'INFO',
          subject: `${this.spec.groupId}/${tp}`,
          message: `${this.spec.name}: ${tp} is consumed again`,
          attributes: { group: this.spec.groupId, topic: r.topic, partition: String(r.partition) },
        });
      }
    }
  }

  private onStall(tp: string, forMs: number): void {
    const error = this.lastError.get(tp) ?? 'no error reported: waiting on Kafka';
    this.log.error({ partition: tp, forMs, error }, 'partition stalled: no progress');
    void this.options.alerts?.({
      id: `pipeline:${this.spec.groupId}:${tp}:STALLED:${Date.now() - forMs}`,
      kind: 'PROCESSOR_STALLED',
      severity: 'CRITICAL',
      subject: `${this.spec.groupId}/${tp}`,
      message: `${this.spec.name} has made no progress on ${tp} for ${Math.round(forMs / 1000)} s: ${error}`,
      attributes: { group: this.spec.groupId, partition: tp, error },
    });
  }

  private onRecover(tp: string, stalledMs: number): void {
    this.log.warn({ partition: tp, stalledMs }, 'partition moves again');
    void this.options.alerts?.({
      id: `pipeline:${this.spec.groupId}:${tp}:STALLED:${Date.now() - stalledMs}:recovered`,
      kind: 'PROCESSOR_RECOVERED',
      severity: 'INFO',
      subject: `${this.spec.groupId}/${tp}`,
      message: `${this.spec.name} makes progress on ${tp} again after ${Math.round(stalledMs / 1000)} s`,
      attributes: { group: this.spec.groupId, partition: tp },
    });
  }

  /**
   * Chunks of different partitions that arrive while a group is being applied wait together and
   * go as the next group: under load a fetch's partitions share one Redis call and one produce
   * request; when idle a chunk goes at once, adding no delay.
   */
  private submit(chunk: InputChunk, heartbeat: () => Promise<void>): Promise<Applied> {
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
      const done: Promise<void> = this.processGroup(group).finally(() => {
        this.groupsInFlight.delete(done);
        this.inFlight -= 1;
        this.pump();
      });
      this.groupsInFlight.add(done);
    }
  }

  private async processGroup(group: Pending[]): Promise<void> {
    const counter = { retries: 0 };
    try {
      let results: ChunkResult[];
      try {
        results = await this.attempt(
          group,
          group.map((p) => p.chunk),
          counter,
        );
      } catch (err) {
        if (!(err instanceof IsolateError)) throw err;
        // one chunk of the group is poisoned: the others go through on their own, and the
        // failing one is split until the event that fails is alone
        results = [];
        for (const p of group) results.push(await this.isolate(group, p.chunk, counter));
      }
      const waiting = { group, retries: 0 };
      this.awaitingPublish.add(waiting);
      const publishStarted = performance.now();
      // queued before the group's chunks resolve: a partition's next chunk, applied after this
      // one, is published after it
      const published = this.publish(results)
        .then(async () => {
          const publishMs = performance.now() - publishStarted;
          for (const r of results) r.publishMs = publishMs;
          await Promise.all(
            results.map(async (r) => {
              try {
                await r.onPublished?.();
              } catch (err) {
                this.log.warn({ err: errorText(err) }, 'after-publication step failed');
              }
            }),
          );
        })
        .finally(() => this.awaitingPublish.delete(waiting));
      group.forEach((p, i) =>
        p.resolve({
          result: results[i] as ChunkResult,
          get retries() {
            return counter.retries + waiting.retries;
          },
          published,
        }),
      );
      await published.catch(() => undefined);
    } catch (err) {
      for (const p of group) p.reject(err);
    }
  }

  /**
   * Hands chunks to the domain. Transient failures are retried in place (heartbeating the
   * group's partitions) until they pass or the processor stops; the stall watch reports a
   * partition that waits too long. Deterministic ones, and unknown ones that keep failing,
   * end in an IsolateError.
   */
  private async attempt(
    group: Pending[],
    chunks: InputChunk[],
    counter: { retries: number },
  ): Promise<ChunkResult[]> {
    let delay = 100;
    const what = chunks.map((c) => `${c.topic}:${c.partition}`);
    // after a transient failure Redis may have failed over to a replica without our last writes:
    // applying the chunk on that state would decide on a past that is gone
    const epoch = this.redisEpoch;
    let verify = what.some((tp) => (this.checkedEpoch.get(tp) ?? 0) < epoch);
    for (let attempt = 1; ; attempt++) {
      try {
        if (verify) {
          const lost = await this.lostPositions(chunks);
          if (lost.size > 0) throw new PositionLostError(lost);
          verify = false;
          for (const tp of what) this.checkedEpoch.set(tp, epoch);
        }
        const results = await this.spec.handleChunks(chunks);
        for (const tp of what) this.lastError.delete(tp);
        return results;
      } catch (err) {
        if (err instanceof PositionLostError) throw err;
        if (this.stopping) throw new StoppingError('stopping');
        const kind = classifyError(err);
        const unknownLimit = this.options.unknownErrorAttempts ?? 3;
        if (kind === 'deterministic' || (kind === 'unknown' && attempt >= unknownLimit)) {
          throw new IsolateError(err);
        }
        for (const tp of what) this.lastError.set(tp, errorText(err));
        const level = attempt === 1 || attempt % 20 === 0 ? 'warn' : 'debug';
        this.log[level](
          { err: errorText(err), what: what.join(','), attempt, kind },
          'chunk failed, retrying',
        );
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, this.options.maxRetryDelayMs ?? 5_000);
        counter.retries += 1;
        verify = true;
        await Promise.all(group.map((p) => p.heartbeat().catch(() => undefined)));
      }
    }
  }

  /** Partitions of these chunks whose Redis position fell below what this instance applied. */
  private async lostPositions(chunks: readonly InputChunk[]): Promise<Map<string, number>> {
    const lost = new Map<string, number>();
    for (const c of chunks) {
      const tp = `${c.topic}:${c.partition}`;
      const applied = this.lastApplied.get(tp);
      if (applied === undefined) continue;
      const { lowest } = await this.spec.appliedPosition(c.topic, c.partition);
      if (lowest < applied) lost.set(tp, lowest + 1);
    }
    return lost;
  }

  /**
   * A chunk that fails deterministically is split in halves, each applied on its own (in
   * order), until the one event that fails is alone: it goes to the dead-letter topic with
   * reason PROCESSING_ERROR and the error, and the partition goes on past it.
   */
  private async isolate(
    group: Pending[],
    chunk: InputChunk,
    counter: { retries: number },
  ): Promise<ChunkResult> {
    try {
      return (await this.attempt(group, [chunk], counter))[0] as ChunkResult;
    } catch (err) {
      if (!(err instanceof IsolateError)) throw err;
      const { messages } = chunk;
      if (messages.length <= 1) {
        const poisoned = messages[0];
        // the event is to blame only if its partition moves without it: the position-only call
        // (which also records the position past it, so a restart does not meet it again) must pass
        let failure: Error = err;
        let delay = 100;
        for (;;) {
          try {
            const rest = (await this.attempt(group, [{ ...chunk, messages: [] }], counter))[0] as ChunkResult;
            if (!poisoned) return rest;
            this.log.warn(
              {
                topic: chunk.topic,
                partition: chunk.partition,
                offset: poisoned.offset,
                err: failure.message,
              },
              'event dead-lettered: its processing fails every time',
            );
            return mergeResults(rest, {
              ...emptyResult(),
              deadLetters: [{ message: poisoned, reason: 'PROCESSING_ERROR', detail: failure.message }],
            });
          } catch (again) {
            if (!(again instanceof IsolateError)) throw again;
            // everything fails, not this event: wait as for a transient failure (the stall
            // watch reports the partition) and try the event again
            if (delay === 100) {
              this.log.warn(
                { topic: chunk.topic, partition: chunk.partition, err: again.message },
                'the partition fails without the suspected event too; not dead-lettering it, retrying',
              );
            }
            await new Promise((r) => setTimeout(r, delay));
            delay = Math.min(delay * 2, this.options.maxRetryDelayMs ?? 5_000);
            if (this.stopping) throw new StoppingError('stopping');
            try {
              return (await this.attempt(group, [chunk], counter))[0] as ChunkResult;
            } catch (e) {
              if (!(e instanceof IsolateError)) throw e;
              failure = e;
            }
          }
        }
      }
      const mid = Math.ceil(messages.length / 2);
      const left = messages.slice(0, mid);
      const right = messages.slice(mid);
      const first = await this.isolate(
        group,
        { ...chunk, messages: left, upTo: (left[left.length - 1] as InputMessage).offset },
        counter,
      );
      const second = await this.isolate(group, { ...chunk, messages: right }, counter);
      return mergeResults(first, second);
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
   * Retries what only fails while something is unreachable (publishing, reading a position)
   * until it succeeds or the processor stops; the stall watch reports a partition that waits.
   * Outputs of applied state are never dropped, so a publish that keeps failing keeps the
   * partition stalled (and the alert raised) rather than losing them.
   */
  private async retryingTransient<T>(
    what: string,
    onRetry: () => Promise<void>,
    fn: () => Promise<T>,
  ): Promise<T> {
    let delay = 100;
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (this.stopping) throw new StoppingError('stopping');
        const level = attempt === 1 || attempt % 20 === 0 ? 'warn' : 'debug';
        this.log[level]({ err: errorText(err), what, attempt }, `${what} failed, retrying`);
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, this.options.maxRetryDelayMs ?? 5_000);
        await onRetry().catch(() => undefined);
      }
    }
  }

  /**
   * For probes: live unless the consumer gave up; ready once it has joined its group and no
   * partition is stalled or refused.
   */
  health(): { live: boolean; ready: boolean; detail: string } {
    if (this.crashed) return { live: false, ready: false, detail: `consumer crashed: ${this.crashed}` };
    if (this.stopping) return { live: true, ready: false, detail: 'stopping' };
    if (!this.joined) return { live: true, ready: false, detail: 'joining its group' };
    const stalled = this.stalls.stalled;
    if (stalled.length) return { live: true, ready: false, detail: `stalled: ${stalled.join(', ')}` };
    if (this.refused.size) {
      return { live: true, ready: false, detail: `refused: ${[...this.refused.keys()].join(', ')}` };
    }
    return { live: true, ready: true, detail: 'consuming' };
  }

  /**
   * Stops fetching, lets the chunks in flight finish (applied and published), commits what was
   * acknowledged, leaves the group.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    // fetches go on until the consumer stops, but their chunks are not applied any more
    this.consumer?.pause(this.spec.topics.map((topic) => ({ topic })));
    while (this.groupsInFlight.size > 0) await Promise.allSettled([...this.groupsInFlight]);
    await this.commitAcked();
    if (this.consumer) await this.consumer.disconnect();
    this.consumer = null;
    await this.admin?.disconnect().catch(() => undefined);
    this.admin = null;
  }
}
