/**
 * The floor under the stock scripts' Redis cost: bench/lua/stock-floor.lua (not the product)
 * applied to the same commands in the same chunks, on the same Redis, so script-cost can print
 * the product's Redis CPU per event as a ratio of the least a script keeping the same state
 * could spend.
 */
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { StockCommand } from '../processors/inventory/commands.js';
import { eventIdBucket, skuBucket } from '../processors/inventory/sku-record.js';
import { ScriptKeys } from '../runtime/lua-scripts.js';

const FLOOR_LUA = readFileSync(new URL('./lua/stock-floor.lua', import.meta.url), 'utf8');
const TAG = '{floor}';

export interface FloorPartition {
  items: { offset: number; command: StockCommand }[];
}

async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const f = (n: string) => Number(new RegExp(`${n}:([\\d.]+)`).exec(info)?.[1]);
  return f('used_cpu_user') + f('used_cpu_sys');
}

/**
 * Seeds every SKU with the opening stock the product run had, applies the partitions chunk by
 * chunk and returns Redis CPU µs per event. Orders' lines are passed with their settling events
 * (the product's caller reads and declares them the same way).
 */
export async function floorRedisMicros(
  redis: Redis,
  parts: readonly FloorPartition[],
  chunk: number,
  skus: readonly string[],
  openingStock: number,
): Promise<number> {
  const seed = redis.pipeline();
  const opening = Buffer.alloc(12);
  opening.writeInt32LE(openingStock, 0);
  opening.writeInt32LE(0, 4);
  opening.writeInt32LE(1, 8);
  for (const s of skus) seed.hset(`${TAG}:sb:${skuBucket(s)}`, s, opening);
  await seed.exec();
  const sha = (await redis.script('LOAD', FLOOR_LUA)) as string;
  const linesOf = new Map<string, { sku: string; quantity: number }[]>();
  const cpu0 = await redisCpuSeconds(redis);
  let events = 0;
  for (const [p, part] of parts.entries()) {
    for (let from = 0; from < part.items.length; from += chunk) {
      const items = part.items.slice(from, from + chunk);
      const keys = new ScriptKeys();
      keys.ref(`${TAG}:ob:${p}`);
      keys.ref(`${TAG}:wm:${p}`);
      const lineArgs = (lines: { sku: string; quantity: number }[]) =>
        lines.flatMap((l) => [keys.ref(`${TAG}:sb:${skuBucket(l.sku)}`), l.sku, l.quantity]);
      const encoded = items.map(({ command: c }) => {
        switch (c.kind) {
          case 'RECEIVED':
          case 'ADJUSTED':
          case 'COUNTED':
            return [
              1,
              c.eventId,
              keys.ref(`${TAG}:sb:${skuBucket(c.sku)}`),
              c.sku,
              c.quantity,
              keys.ref(`${TAG}:eb:${eventIdBucket(c.eventId)}`),
            ];
          case 'PLACE':
            linesOf.set(c.orderId, c.lines);
            return [2, c.eventId, keys.ref(`${TAG}:o:${c.orderId}`), c.lines.length, ...lineArgs(c.lines)];
          default: {
            const lines = linesOf.get(c.orderId) ?? [];
            return [
              c.kind === 'PAY' ? 3 : 4,
              c.eventId,
              keys.ref(`${TAG}:o:${c.orderId}`),
              lines.length,
              ...lineArgs(lines),
            ];
          }
        }
      });
      const last = items[items.length - 1];
      await redis.evalsha(
        sha,
        keys.keys.length,
        ...keys.keys,
        JSON.stringify(encoded),
        String(last?.offset ?? 0),
      );
      events += items.length;
    }
  }
  const seconds = (await redisCpuSeconds(redis)) - cpu0;
  return (seconds / events) * 1e6;
}
