/**
 * What the script benchmarks (script-cost.ts, script-ab.ts) feed the stock scripts without
 * Kafka: a catalogue and opening stock for every SKU, and the workload validated into commands
 * and spread over input partitions as Kafka would spread it.
 */
import type { StockCommand } from '../processors/inventory/commands.js';
import type { OrderEvent, StockEvent } from '../schemas/types.js';
import { sku, SKUS, workload } from './workload.js';

export interface ScriptPart {
  topic: string;
  partition: number;
  items: { offset: number; command: StockCommand }[];
}

/** The StockStore calls the set-up needs (any release's store has them). */
interface SeedableStore {
  applyCatalogue(
    updates: { sku: string; version: number; lowStockThreshold: number; safetyStock: number }[],
  ): Promise<unknown>;
  applyBatch(
    topic: string,
    partition: number,
    items: { offset: number; command: StockCommand }[],
    trimUpTo: number,
  ): Promise<unknown>;
}

/** Every SKU in the catalogue (threshold 5, no safety stock). */
export async function seedCatalogue(store: Pick<SeedableStore, 'applyCatalogue'>): Promise<void> {
  for (let i = 0; i < SKUS; i += 1000) {
    await store.applyCatalogue(
      Array.from({ length: Math.min(1000, SKUS - i) }, (_, j) => ({
        sku: sku(i + j),
        version: 1,
        lowStockThreshold: 5,
        safetyStock: 0,
      })),
    );
  }
}

/** Every SKU in the catalogue (threshold 5) with 1,000 units. */
export async function seedStock(store: SeedableStore): Promise<void> {
  await seedCatalogue(store);
  await store.applyBatch(
    'open',
    0,
    Array.from({ length: SKUS }, (_, i) => ({
      offset: i,
      command: { kind: 'RECEIVED' as const, eventId: `open-${i}`, sku: sku(i), quantity: 1000 },
    })),
    -1,
  );
}

type Validate<E> = (e: E, now: number) => { ok: boolean; command?: StockCommand | null };

/**
 * `events` of the workload as commands (validated by the given release's rules), stock by SKU
 * and orders by order id over `partitions` partitions (half of each topic). With `eventsPerSecond`,
 * event times are spread as a stream at that rate would have them, ending now (velocities decay
 * between a SKU's events as in a running shop); without, every event happens now.
 */
export function partitionWorkload(
  events: number,
  partitions: number,
  validateStock: Validate<StockEvent>,
  validateOrder: Validate<OrderEvent>,
  eventsPerSecond = 0,
): { parts: ScriptPart[]; count: number } {
  const now = Date.now();
  let n = 0;
  const parts: ScriptPart[] = Array.from({ length: partitions }, (_, p) => ({
    topic: p % 2 ? 'orders' : 'stock',
    partition: p,
    items: [],
  }));
  let count = 0;
  for (const e of workload(events, 1)) {
    if (eventsPerSecond > 0) {
      (e.value as { occurredAt: number }).occurredAt =
        now - Math.round(((events - n) * 1000) / eventsPerSecond);
    }
    n += 1;
    const v =
      e.topic === 'stock'
        ? validateStock(e.value as StockEvent, now)
        : validateOrder(e.value as OrderEvent, now);
    if (!v.ok || !v.command) continue;
    let h = 0;
    for (let i = 0; i < e.key.length; i++) h = (h * 31 + e.key.charCodeAt(i)) >>> 0;
    const part = parts[(e.topic === 'stock' ? 0 : 1) + 2 * (h % Math.floor(partitions / 2))] as ScriptPart;
    part.items.push({ offset: part.items.length, command: v.command });
    count += 1;
  }
  return { parts, count };
}
