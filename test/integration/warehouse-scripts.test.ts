import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { StockCommand } from '../../processors/inventory/commands.js';
import type { EventResult, ScriptOutput } from '../../processors/inventory/script-results.js';
import { StockStore } from '../../processors/inventory/store.js';
import { deleteTag, testRedis, uniqueTag } from '../helpers/redis.js';

// Stock per warehouse in the stock script (real Redis): where an order is held, and that
// payment, shipment and release act on exactly those holds. The property test compares the
// same rules with the reference model over random streams.

describe('stock per warehouse (real Redis)', () => {
  let redis: Redis;
  let store: StockStore;
  let tag: string;
  let offset = 0;
  let receipts = 0;
  beforeAll(() => {
    redis = testRedis();
  });
  beforeEach(async () => {
    tag = uniqueTag('wh');
    // NORTH is preferred; SOUTH and EAST come after it, by name
    store = new StockStore(redis, {
      keyTag: tag,
      warehouses: { defaultWarehouse: 'MAIN', preference: ['NORTH'] },
    });
    await store.applyCatalogue(
      ['A', 'B', 'C'].map((sku) => ({ sku, version: 1, lowStockThreshold: 0, safetyStock: 0 })),
    );
  });
  afterEach(async () => {
    await deleteTag(redis, tag);
  });
  afterAll(async () => {
    await redis.quit();
  });

  async function apply(...commands: StockCommand[]): Promise<EventResult[]> {
    const items = commands.map((command) => ({ offset: offset++, command }));
    const res = await store.applyBatch('all', 0, items, -1);
    return res.applied;
  }
  const receive = (sku: string, quantity: number, warehouse?: string): StockCommand => ({
    kind: 'RECEIVED',
    eventId: `r-${++receipts}`,
    sku,
    quantity,
    ...(warehouse ? { warehouse } : {}),
  });
  const place = (orderId: string, lines: [string, number][]): StockCommand => ({
    kind: 'PLACE',
    eventId: `pl-${orderId}`,
    orderId,
    lines: lines.map(([sku, quantity]) => ({ sku, quantity })),
  });
  const result = (r: EventResult[] | EventResult | undefined) => {
    const one = Array.isArray(r) ? r[0] : r;
    return one?.outputs.find((o): o is Extract<ScriptOutput, { k: 'result' }> => o.k === 'result');
  };
  const held = (r: EventResult[]) =>
    (result(r)?.allocations ?? []).map((h) => `${h.sku}@${h.warehouseId}=${h.quantity}`).sort();
  const stockOf = async (sku: string) =>
    Object.fromEntries(
      ((await store.getSku(sku))?.warehouses ?? []).map((w) => [w.warehouseId, [w.onHand, w.reserved]]),
    );

  it('events without a warehouse keep the stock in the default one, without a second field', async () => {
    await apply(receive('A', 10));
    const placed = await apply(place('o1', [['A', 4]]));
    expect(result(placed)?.outcome).toBe('RESERVED');
    expect(result(placed)?.allocations).toBeUndefined();
    expect(await stockOf('A')).toEqual({ MAIN: [10, 4] });
    expect(await redis.hexists(store.shards.keysOfSku('A').sku('A'), '@A')).toBe(0);
  });

  it('an order goes whole to the preferred warehouse that can serve every line, else to another that can', async () => {
    await apply(
      receive('A', 5, 'NORTH'),
      receive('B', 5, 'NORTH'),
      receive('A', 5, 'SOUTH'),
      receive('B', 5, 'SOUTH'),
    );
    // both could serve it: the preferred one
    expect(
      held(
        await apply(
          place('o1', [
            ['A', 2],
            ['B', 2],
          ]),
        ),
      ),
    ).toEqual(['A@NORTH=2', 'B@NORTH=2']);
    // NORTH has 3 of A left: SOUTH serves it whole rather than splitting
    expect(
      held(
        await apply(
          place('o2', [
            ['A', 4],
            ['B', 1],
          ]),
        ),
      ),
    ).toEqual(['A@SOUTH=4', 'B@SOUTH=1']);
    expect(await stockOf('A')).toEqual({ NORTH: [5, 2], SOUTH: [5, 4] });
    expect(await stockOf('B')).toEqual({ NORTH: [5, 2], SOUTH: [5, 1] });
  });

  it('split line by line when no warehouse can serve it whole, all or nothing', async () => {
    await apply(receive('A', 3, 'NORTH'), receive('A', 4, 'SOUTH'), receive('B', 2, 'EAST'));
    // A needs both NORTH and SOUTH; B is only in EAST
    const split = await apply(
      place('o1', [
        ['A', 5],
        ['B', 2],
      ]),
    );
    expect(result(split)?.outcome).toBe('RESERVED');
    expect(held(split)).toEqual(['A@NORTH=3', 'A@SOUTH=2', 'B@EAST=2']);
    // 2 of A left (SOUTH) but 3 asked: rejected, nothing held anywhere
    const before = [await stockOf('A'), await stockOf('B')];
    const rejected = await apply(place('o2', [['A', 3]]));
    expect(result(rejected)).toMatchObject({ outcome: 'REJECTED', shortages: [{ sku: 'A', requested: 3 }] });
    expect([await stockOf('A'), await stockOf('B')]).toEqual(before);
  });

  it('a shortage in one warehouse counts against the total; a free unit elsewhere is promised once', async () => {
    await apply(receive('C', 2, 'NORTH'), receive('C', 2, 'SOUTH'));
    await apply(place('o1', [['C', 4]]));
    expect(await stockOf('C')).toEqual({ NORTH: [2, 2], SOUTH: [2, 2] });
    // a count in SOUTH finds one unit: the hold exceeds the stock there (a shortage is shown,
    // never hidden) and counts against the total: a unit received elsewhere covers it first
    await apply({ kind: 'COUNTED', eventId: 'count-1', sku: 'C', quantity: 1, warehouse: 'SOUTH' });
    expect(await stockOf('C')).toEqual({ NORTH: [2, 2], SOUTH: [1, 2] });
    expect(await store.getSku('C')).toMatchObject({ onHand: 3, available: -1 });
    await apply(receive('C', 1, 'EAST'));
    expect(result(await apply(place('o2', [['C', 1]])))?.outcome).toBe('REJECTED');
    await apply(receive('C', 1, 'EAST'));
    expect(held(await apply(place('o3', [['C', 1]])))).toEqual(['C@EAST=1']);
    expect(await stockOf('C')).toEqual({ EAST: [2, 1], NORTH: [2, 2], SOUTH: [1, 2] });
  });

  it('payment, shipment, cancellation and restock act on exactly the units the order holds where it holds them', async () => {
    await apply(receive('A', 3, 'NORTH'), receive('A', 4, 'SOUTH'), receive('B', 5));
    await apply(
      place('o1', [
        ['A', 5],
        ['B', 1],
      ]),
    );
    await apply(place('o2', [['A', 1]]));
    expect(await stockOf('A')).toEqual({ NORTH: [3, 3], SOUTH: [4, 3] });

    // paid: the units leave the warehouses that held them, and the result says from where
    const paid = await apply({ kind: 'PAY', eventId: 'pay-o1', orderId: 'o1' });
    expect(result(paid)?.outcome).toBe('COMMITTED');
    expect(held(paid)).toEqual(['A@NORTH=3', 'A@SOUTH=2', 'B@MAIN=1']);
    expect(await stockOf('A')).toEqual({ NORTH: [0, 0], SOUTH: [2, 1] });
    expect(await stockOf('B')).toEqual({ MAIN: [4, 0] });

    // o2's hold is released where it was
    const cancelled = await apply({ kind: 'CANCEL', eventId: 'cancel-o2', orderId: 'o2' });
    expect(held(cancelled)).toEqual(['A@SOUTH=1']);
    expect(await stockOf('A')).toEqual({ NORTH: [0, 0], SOUTH: [2, 0] });

    // o1 cancelled after payment, before shipment: its units go back where they came from
    const restocked = await apply({ kind: 'CANCEL', eventId: 'cancel-o1', orderId: 'o1' });
    expect(result(restocked)).toMatchObject({ outcome: 'RELEASED', reason: 'RESTOCKED' });
    expect(await stockOf('A')).toEqual({ NORTH: [3, 0], SOUTH: [4, 0] });
    expect(await stockOf('B')).toEqual({ MAIN: [5, 0] });
    expect(await store.getSku('A')).toMatchObject({ onHand: 7, reserved: 0 });
  });

  it('an order held across warehouses survives a redelivery: the same holds, applied once', async () => {
    await apply(receive('A', 2, 'NORTH'), receive('A', 2, 'SOUTH'));
    const items = [{ offset: 100, command: place('o1', [['A', 3]]) }];
    const first = await store.applyBatch('orders', 1, items, -1);
    const again = await store.applyBatch('orders', 1, items, -1);
    expect(again.applied).toEqual([]);
    expect(again.replayed).toEqual(first.applied);
    expect(await stockOf('A')).toEqual({ NORTH: [2, 2], SOUTH: [2, 1] });
  });
});
