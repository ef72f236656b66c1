import type { Kafka } from 'kafkajs';
import type { InputChunk } from '../../runtime/processor-runner.js';
import { headerString, readTopicToEnd } from '../../runtime/topic-reader.js';
import { DecodeError, type AvroCodec } from '../../schemas/codec.js';

/** A reservation decision already published for an order event. */
export interface PriorDecision {
  resultId: string;
  outcome: 'RESERVED' | 'REJECTED';
}

// results are produced after their input: reading from a while before the input's time finds them
const LOOK_BACK_MS = 60 * 60 * 1000;

/**
 * When Redis lost writes, the events after its watermark are applied again, and an order can
 * now be decided differently from what was published (stock moved in another order meanwhile).
 * That decision must not go out under the old id, where consumers would drop it as a duplicate,
 * nor silently: it goes out as a correction naming the result it replaces, with an alert.
 * This remembers the replayed ranges and finds, in the reservation-results topic, what was
 * published for the events in them (each result names its input in its `src` header).
 */
export class ReplayCorrections {
  private readonly ranges = new Map<string, { from: number; to: number }>();
  /** one read of the results topic serves every range registered before it started */
  private loading: { ranges: Set<string>; prior: Promise<Map<string, PriorDecision>> } | null = null;

  constructor(
    private readonly kafka: Kafka,
    private readonly codec: AvroCodec,
    private readonly resultsTopic: string,
  ) {}

  replaying(topic: string, partition: number, from: number, to: number): void {
    const tp = `${topic}:${partition}`;
    const known = this.ranges.get(tp);
    // a partition lost twice before its replay ended replays from the earlier loss's start
    this.ranges.set(
      tp,
      known ? { from: Math.min(known.from, from), to: Math.max(known.to, to) } : { from, to },
    );
    this.loading = null;
  }

  /** What was published for this chunk's events (by offset), if they are being applied again. */
  async priorFor(chunk: InputChunk): Promise<Map<number, PriorDecision> | null> {
    const tp = `${chunk.topic}:${chunk.partition}`;
    const range = this.ranges.get(tp);
    if (!range) return null;
    const first = chunk.messages[0]?.offset ?? chunk.upTo;
    if (first > range.to) {
      this.ranges.delete(tp);
      return null;
    }
    if (!this.loading || !this.loading.ranges.has(tp)) {
      const since = Math.min(...chunk.messages.map((m) => m.timestamp), Date.now()) - LOOK_BACK_MS;
      const loading = { ranges: new Set(this.ranges.keys()), prior: this.load(new Map(this.ranges), since) };
      this.loading = loading;
      loading.prior.catch(() => {
        if (this.loading === loading) this.loading = null; // a failed read is retried with the chunk
      });
    }
    const prior = await this.loading.prior;
    const own = new Map<number, PriorDecision>();
    for (const { offset } of chunk.messages) {
      const d = prior.get(`${tp}:${offset}`);
      if (d) own.set(offset, d);
    }
    return own;
  }

  private async load(
    /** the registered ranges themselves: a range's end moves to the last event with a result */
    ranges: ReadonlyMap<string, { from: number; to: number }>,
    since: number,
  ): Promise<Map<string, PriorDecision>> {
    const prior = new Map<string, PriorDecision>();
    await readTopicToEnd(
      this.kafka,
      this.resultsTopic,
      async (m) => {
        const src = headerString(m.headers, 'src');
        if (!src) return;
        const i = src.lastIndexOf(':');
        const range = ranges.get(src.slice(0, i));
        const offset = Number(src.slice(i + 1));
        // past `to` too: events applied and published but not yet committed (or applied by an
        // instance that died) are replayed as well; what the topic holds for them says how far
        if (!range || offset < range.from) return;
        if (offset > range.to) range.to = offset;
        try {
          const r = await this.codec.decode('reservation-results', m.value);
          if (r.outcome === 'RESERVED' || r.outcome === 'REJECTED') {
            // the latest one published for the event is the one in force
            prior.set(src, { resultId: r.resultId, outcome: r.outcome });
          }
        } catch (err) {
          if (!(err instanceof DecodeError)) throw err;
        }
      },
      300_000,
      { fromTimestamp: since },
    );
    return prior;
  }
}
