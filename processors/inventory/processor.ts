import type { DeadLetter, InputMessage } from '../../runtime/dead-letter.js';
import { chunkPosition } from '../../runtime/chunk-positions.js';
import type {
  ChunkResult,
  InputChunk,
  OutputMessage,
  ProcessorSpec,
} from '../../runtime/processor-runner.js';
import { DecodeError, type AvroCodec } from '../../schemas/codec.js';
import { verifyOrderSignature } from '../../schemas/order-signature.js';
import type { OrderEvent } from '../../schemas/types.js';
import type { CatalogueTable } from './catalogue.js';
import {
  validateOrderEvent,
  validateStockEvent,
  type StockCommand,
  type ValidationLimits,
  type Verdict,
} from './commands.js';
import type { ReplayCorrections } from './corrections.js';
import type { InventoryOutputs } from './outputs.js';
import type { EventResult } from './script-results.js';
import type { BatchApplyResult, StockStore } from './store.js';

export interface InventoryTopics {
  stock: string;
  orders: string;
  stockDeadLetter: string;
  ordersDeadLetter: string;
}

export interface InventoryProcessorDeps {
  groupId: string;
  topics: InventoryTopics;
  codec: AvroCodec;
  store: StockStore;
  outputs: InventoryOutputs;
  catalogue: Pick<CatalogueTable, 'ensureKnown'>;
  limits: ValidationLimits;
  /** When set, order events without a valid HMAC never reach stock state. */
  orderSigningSecret?: string;
  /** Finds what was published for events applied again after Redis lost writes. */
  corrections?: ReplayCorrections;
}

function skusOf(c: StockCommand): string[] {
  switch (c.kind) {
    case 'PLACE':
      return c.lines.map((l) => l.sku);
    case 'RECEIVED':
    case 'ADJUSTED':
    case 'COUNTED':
      return [c.sku];
    default:
      return [];
  }
}

/**
 * The stock processor's domain: decode and validate stock and order events, apply them with
 * one script call per chunk, and turn what the script reports into outputs and dead letters.
 */
/** A message that does not decode is the message's fault; anything else (registry unreachable) is transient: the runner retries the chunk. */
function decodeErrorOr(err: unknown): DecodeError {
  if (err instanceof DecodeError) return err;
  throw err;
}

export function inventoryProcessor(deps: InventoryProcessorDeps): ProcessorSpec {
  const { topics, codec, store, outputs, catalogue, limits } = deps;
  // per input partition: the highest offset whose outputs Kafka acknowledged (trims the outbox)
  const published = new Map<string, number>();

  /** Synchronous for every message whose schema was seen before; a promise only for the first. */
  function decodeAndValidate(
    m: InputMessage,
    now: number,
  ): Verdict<StockCommand> | DecodeError | Promise<Verdict<StockCommand> | DecodeError> {
    try {
      if (m.topic === topics.stock) {
        const stock = codec.decodeNow('stock', m.value);
        return stock instanceof Promise
          ? stock.then((e) => validateStockEvent(e, now, limits), decodeErrorOr)
          : validateStockEvent(stock, now, limits);
      }
      const order = codec.decodeNow('orders', m.value);
      return order instanceof Promise
        ? order.then((o) => validOrder(o, now), decodeErrorOr)
        : validOrder(order, now);
    } catch (err) {
      return decodeErrorOr(err);
    }
  }

  function validOrder(order: OrderEvent, now: number): Verdict<StockCommand> {
    const signature = verifyOrderSignature(order, deps.orderSigningSecret);
    if (signature !== 'ok')
      return { ok: false, reason: signature, detail: 'order event signature check failed' };
    return validateOrderEvent(order, now, limits);
  }

  return {
    name: 'inventory',
    groupId: deps.groupId,
    topics: [topics.stock, topics.orders],
    deadLetterTopic: (input) => (input === topics.stock ? topics.stockDeadLetter : topics.ordersDeadLetter),

    async handleChunks(chunks: InputChunk[]): Promise<ChunkResult[]> {
      const now = Date.now();
      const prepared = [];
      for (const { topic, partition, messages } of chunks) {
        const deadLetters: DeadLetter[] = [];
        const items: { offset: number; command: StockCommand }[] = [];
        const byOffset = new Map<number, InputMessage>();
        let skipped = 0;
        for (const m of messages) {
          byOffset.set(m.offset, m);
          if (m.key === null) {
            deadLetters.push({ message: m, reason: 'MISSING_KEY', detail: 'message has no key' });
            continue;
          }
          let verdict = decodeAndValidate(m, now);
          if (verdict instanceof Promise) verdict = await verdict;
          if (verdict instanceof DecodeError) {
            deadLetters.push({ message: m, reason: verdict.kind, detail: verdict.message });
          } else if (!verdict.ok) {
            deadLetters.push({ message: m, reason: verdict.reason, detail: verdict.detail });
          } else if (verdict.command === null) {
            skipped += 1;
          } else {
            items.push({ offset: m.offset, command: verdict.command });
          }
        }
        prepared.push({
          topic,
          partition,
          tp: `${topic}:${partition}`,
          deadLetters,
          items,
          byOffset,
          skipped,
        });
      }

      await catalogue.ensureKnown(
        new Set(prepared.flatMap((p) => p.items.flatMap((i) => skusOf(i.command)))),
      );

      // every chunk goes to Redis, items or not: its position moves in the same call
      const t0 = performance.now();
      const applied = await store.applyBatches(
        prepared.map((p, i) => ({
          ...chunkPosition(chunks[i] as InputChunk),
          items: p.items,
          trimUpTo: published.get(p.tp) ?? -1,
        })),
      );
      const redisMs = performance.now() - t0;
      const appliedAt = Date.now();
      const corrections = deps.corrections;
      const priors = corrections
        ? await Promise.all(chunks.map((c) => corrections.priorFor(c)))
        : chunks.map(() => null);

      return prepared.map((p, i) => {
        const res = applied[i] as BatchApplyResult;
        const prior = priors[i] ?? null;
        const out: OutputMessage[] = [];
        let duplicates = res.redeliveredCount;
        let skipped = p.skipped;
        const collect = (r: EventResult, replay: boolean) => {
          const m = p.byOffset.get(r.offset);
          if (r.status === 'dlq') {
            if (m) {
              p.deadLetters.push({
                message: m,
                reason: r.why ?? 'REJECTED',
                detail: `${r.why} (by stock script)`,
              });
            }
          } else if (r.status === 'dup' && !replay) duplicates += 1;
          else if (r.status === 'skip' && !replay) skipped += 1;
          const source = {
            eventId: r.eventId ?? '',
            topic: p.topic,
            partition: p.partition,
            offset: r.offset,
          };
          for (const o of r.outputs) {
            const before = prior?.get(r.offset);
            if (o.k === 'result' && before && before.outcome !== o.outcome) {
              // decided otherwise than what was published before Redis lost the writes
              const corrected = { ...o, corrects: before.resultId };
              out.push(outputs.build(corrected, source, now));
              out.push(
                outputs.correction(
                  o.oid,
                  before,
                  { resultId: `${source.eventId}:${o.outcome}`, outcome: o.outcome },
                  source,
                  now,
                ),
              );
            } else out.push(outputs.build(o, source, now));
          }
        };
        for (const r of res.applied) collect(r, false);
        for (const r of res.replayed) collect(r, true);
        // the changelog records of what this chunk changed go out with its outputs, so the
        // changelog is never behind a committed offset (what `stock rebuild` relies on)
        for (const l of res.levels) out.push(outputs.level(l, now));
        return {
          outputs: out,
          deadLetters: p.deadLetters,
          applied: res.appliedCount,
          duplicates,
          skipped,
          redisMs,
          appliedAt,
          onPublished: () => {
            if (res.lastOffset > (published.get(p.tp) ?? -1)) published.set(p.tp, res.lastOffset);
            // done unless the SKU changed since: then the drainer publishes it again. Not on the
            // partition's way to its next fetch: an acknowledgement that never comes (a crash,
            // Redis away) only leaves the mark to the drainer, which publishes it once more
            if (res.levels.length) {
              void store.changelog.ackPublishedLevels(res.levels).catch(() => undefined);
            }
          },
        };
      });
    },

    appliedPosition: (topic, partition) => store.appliedPosition(topic, partition),

    replaying(topic, partition, from, to) {
      deps.corrections?.replaying(topic, partition, from, to);
    },
  };
}
