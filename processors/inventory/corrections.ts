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
  private readonly ranges = new Map<
    string,
    { from: number; to: number; prior: Promise<Map<number, PriorDecision>> | null }
  >();

  constructor(
    private readonly kafka: Kafka,
    private readonly codec: AvroCodec,
    private readonly resultsTopic: string,
  ) {}

  replaying(topic: string, partition: number, from: number, to: number): void {
    this.ranges.set(`${topic}:${partition}`, { from, to, prior: null });
  }

  /** What was published for this chunk's events, if they are being applied again. */
  async priorFor(chunk: InputChunk): Promise<Map<number, PriorDecision> | null> {
    const tp = `${chunk.topic}:${chunk.partition}`;
    const range = this.ranges.get(tp);
    if (!range) return null;
    const first = chunk.messages[0]?.offset ?? chunk.upTo;
    if (first > range.to) {
      this.ranges.delete(tp);
      return null;
    }
    if (!range.prior) {
      const since = Math.min(...chunk.messages.map((m) => m.timestamp), Date.now()) - LOOK_BACK_MS;
      range.prior = this.load(tp, range.from, range.to, since);
      range.prior.catch(() => {
        range.prior = null; // a failed read is retried with the chunk
      });
    }
    return range.prior;
  }

  private async load(
    tp: string,
    from: number,
    to: number,
    since: number,
  ): Promise<Map<number, PriorDecision>> {
    const prior = new Map<number, PriorDecision>();
    await readTopicToEnd(
      this.kafka,
      this.resultsTopic,
      async (m) => {
        const src = headerString(m.headers, 'src');
        if (!src?.startsWith(`${tp}:`)) return;
        const offset = Number(src.slice(tp.length + 1));
        if (offset < from || offset > to) return;
        try {
          const r = await this.codec.decode('reservation-results', m.value);
          if (r.outcome === 'RESERVED' || r.outcome === 'REJECTED') {
            // the latest one published for the event is the one in force
            prior.set(offset, { resultId: r.resultId, outcome: r.outcome });
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
