import type { DeadLetter, InputMessage } from '../../runtime/dead-letter.js';
import type { ChunkResult, OutputMessage, ProcessorSpec } from '../../runtime/processor-runner.js';
import { DecodeError, type AvroCodec } from '../../schemas/codec.js';
import type { CatalogueTable } from './catalogue.js';
import {
  validateOrderEvent,
  validateStockEvent,
  type StockCommand,
  type ValidationLimits,
  type Verdict,
} from './commands.js';
import type { InventoryOutputs } from './outputs.js';
import type { EventResult, StockStore } from './store.js';

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
}

function skusOf(c: StockCommand): string[] {
  switch (c.kind) {
    case 'PLACE':
      return c.lines.map((l) => l.sku);
    case 'RELEASE':
    case 'COMMIT':
      return [];
    default:
      return [c.sku];
  }
}

/**
 * The stock processor's domain: decode and validate stock and order events, apply them with
 * one script call per chunk, and turn what the script reports into outputs and dead letters.
 */
export function inventoryProcessor(deps: InventoryProcessorDeps): ProcessorSpec {
  const { topics, codec, store, outputs, catalogue, limits } = deps;
  // per input partition: the highest offset whose outputs Kafka acknowledged (trims the outbox)
  const published = new Map<string, number>();

  async function decodeAndValidate(
    m: InputMessage,
    now: number,
  ): Promise<Verdict<StockCommand> | DecodeError> {
    try {
      if (m.topic === topics.stock)
        return validateStockEvent(await codec.decode('stock', m.value), now, limits);
      return validateOrderEvent(await codec.decode('orders', m.value), now, limits);
    } catch (err) {
      if (err instanceof DecodeError) return err;
      throw err; // registry unreachable: transient, the runner retries the chunk
    }
  }

  return {
    name: 'inventory',
    groupId: deps.groupId,
    topics: [topics.stock, topics.orders],
    deadLetterTopic: (input) => (input === topics.stock ? topics.stockDeadLetter : topics.ordersDeadLetter),

    async handleChunk(topic, partition, messages): Promise<ChunkResult> {
      const now = Date.now();
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
        const verdict = await decodeAndValidate(m, now);
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

      await catalogue.ensureKnown(new Set(items.flatMap((i) => skusOf(i.command))));

      const tp = `${topic}:${partition}`;
      const t0 = performance.now();
      const res = items.length
        ? await store.applyBatch(topic, partition, items, published.get(tp) ?? -1)
        : { applied: [], replayed: [], lastOffset: -1, appliedCount: 0, redeliveredCount: 0 };
      const redisMs = performance.now() - t0;
      const appliedAt = Date.now();

      const out: OutputMessage[] = [];
      let duplicates = res.redeliveredCount;
      const collect = (r: EventResult, replay: boolean) => {
        const m = byOffset.get(r.offset);
        if (r.status === 'dlq') {
          if (m)
            deadLetters.push({
              message: m,
              reason: r.why ?? 'REJECTED',
              detail: `${r.why} (by stock script)`,
            });
        } else if (r.status === 'dup' && !replay) duplicates += 1;
        else if (r.status === 'skip' && !replay) skipped += 1;
        const source = { eventId: r.eventId ?? '', topic, partition, offset: r.offset };
        for (const o of r.outputs) out.push(outputs.build(o, source, now));
      };
      for (const r of res.applied) collect(r, false);
      for (const r of res.replayed) collect(r, true);
      return {
        outputs: out,
        deadLetters,
        applied: res.appliedCount,
        duplicates,
        skipped,
        redisMs,
        appliedAt,
        onPublished: () => {
          if (res.lastOffset > (published.get(tp) ?? -1)) published.set(tp, res.lastOffset);
        },
      };
    },
  };
}
