import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { StockStore } from '../../processors/inventory/store.js';
import { receiveCommand } from '../helpers/stock-commands.js';
import { deleteTag, testRedis, uniqueTag } from '../helpers/redis.js';

// Example-based tests of each script's rules, against a real Redis. The property test in
// stock-scripts.property.test.ts covers the combinations.
describe('apply-stock-batch.lua / apply-catalogue.lua', () => {
  let redis: Redis;
  let store: StockStore;
  let tag: string;
  beforeAll(() => {
    redis = testRedis();
  });
  beforeEach(async () => {
    tag = uniqueTag('script');
    store = new StockStore(redis, { keyTag: tag });
    await store.applyCatalogue([
      { sku: 'A', version: 1, lowStockThreshold: 2, safetyStock: 0 },
      { sku: 'B', version: 1, lowStockThreshold: 0, safetyStock: 0 },
    ]);
  });
  afterAll(async () => {
    await deleteTag(redis, tag);
    await redis.quit();
  });

  it('redelivery after a crash before publishing returns the stored outputs and applies nothing twice', async () => {
    await store.applyBatch('stock', 0, [{ offset: 0, command: receiveCommand('r1', 'A', 5) }], -1);
    const place = {
      kind: 'PLACE' as const,
      eventId: 'p1',
      orderId: 'o1',
      lines: [{ sku: 'A', quantity: 4 }],
    };
    const first = await store.applyBatch('orders', 3, [{ offset: 10, command: place }], -1);
    expect(first.applied[0]?.outputs[0]).toMatchObject({ k: 'result', outcome: 'RESERVED', oid: 'o1' });
    expect(first.applied[0]?.outputs[1]).toMatchObject({ k: 'alert', kind: 'LOW_STOCK', sku: 'A' });

    // the process died before its producer confirmed: same offset again, nothing confirmed yet
    const again = await store.applyBatch('orders', 3, [{ offset: 10, command: place }], -1);
    expect(again.applied).toEqual([]);
    expect(again.replayed).toEqual(first.applied);
    expect((await store.getSku('A'))?.reserved).toBe(4);

    // once confirmed (trim), the outbox forgets them
    const later = await store.applyBatch('orders', 3, [{ offset: 10, command: place }], 10);
    expect(later.replayed).toEqual([]);
    expect(await store.watermark('orders', 3)).toBe(10);
  });

  it('an upstream re-send at a new offset changes state once', async () => {
    await store.applyBatch('stock', 0, [{ offset: 0, command: receiveCommand('r1', 'A', 5) }], -1);
    const res = await store.applyBatch('stock', 0, [{ offset: 1, command: receiveCommand('r1', 'A', 5) }], 0);
    expect(res.applied[0]).toMatchObject({ status: 'dup', why: 'DUPLICATE_EVENT_ID' });
    expect((await store.getSku('A'))?.onHand).toBe(5);
  });

  it('reserves a multi-line order all-or-nothing and reports every short line', async () => {
    await store.applyBatch(
      'stock',
      0,
      [
        { offset: 0, command: receiveCommand('r1', 'A', 5) },
        { offset: 1, command: receiveCommand('r2', 'B', 1) },
      ],
      -1,
    );
    const res = await store.applyBatch(
      'orders',
      0,
      [
        {
          offset: 0,
          command: {
            kind: 'PLACE',
            eventId: 'p1',
            orderId: 'o1',
            lines: [
              { sku: 'A', quantity: 2 },
              { sku: 'B', quantity: 3 },
            ],
          },
        },
      ],
      -1,
    );
    expect(res.applied[0]?.outputs[0]).toEqual({
      k: 'result',
      outcome: 'REJECTED',
      oid: 'o1',
      lines: [
        { sku: 'A', quantity: 2 },
        { sku: 'B', quantity: 3 },
      ],
      shortages: [{ sku: 'B', requested: 3, available: 1 }],
    });
    expect((await store.getSku('A'))?.reserved).toBe(0);
    expect((await store.getSku('B'))?.reserved).toBe(0);
  });

  it('a count revealing shrinkage raises a shortage with the deficit and blocks new reservations', async () => {
    await store.applyBatch('stock', 0, [{ offset: 0, command: receiveCommand('r1', 'A', 10) }], -1);
    await store.applyBatch(
      'orders',
      0,
      [
        {
          offset: 0,
          command: { kind: 'PLACE', eventId: 'p1', orderId: 'o1', lines: [{ sku: 'A', quantity: 8 }] },
        },
      ],
      -1,
    );
    const count = await store.applyBatch(
      'stock',
      0,
      [{ offset: 1, command: { kind: 'COUNTED', eventId: 'c1', sku: 'A', quantity: 5 } }],
      0,
    );
    expect(count.applied[0]?.outputs[0]).toEqual({
      k: 'alert',
      sku: 'A',
      kind: 'SHORTAGE',
      on: 5,
      rs: 8,
      th: 2,
    });
    const a = await store.getSku('A');
    expect(a?.available).toBe(-3); // reported, not clamped
    const next = await store.applyBatch(
      'orders',
      0,
      [
        {
          offset: 1,
          command: { kind: 'PLACE', eventId: 'p2', orderId: 'o2', lines: [{ sku: 'A', quantity: 1 }] },
        },
      ],
      0,
    );
    expect(next.applied[0]?.outputs[0]).toMatchObject({ outcome: 'REJECTED' });
  });

  it('release and commit move a hold once; unknown SKUs and orders are dead-lettered', async () => {
    await store.applyBatch('stock', 0, [{ offset: 0, command: receiveCommand('r1', 'A', 3) }], -1);
    const unknownSku = await store.applyBatch(
      'stock',
      0,
      [{ offset: 1, command: receiveCommand('r2', 'ZZ', 3) }],
      0,
    );
    expect(unknownSku.applied[0]).toMatchObject({ status: 'dlq', why: 'UNKNOWN_SKU' });
    const res = await store.applyBatch(
      'orders',
      0,
      [
        {
          offset: 0,
          command: { kind: 'PLACE', eventId: 'p1', orderId: 'o1', lines: [{ sku: 'A', quantity: 3 }] },
        },
        { offset: 1, command: { kind: 'COMMIT', eventId: 'pay1', orderId: 'o1' } },
        { offset: 2, command: { kind: 'COMMIT', eventId: 'ship1', orderId: 'o1' } },
        { offset: 3, command: { kind: 'RELEASE', eventId: 'cancel1', orderId: 'o1' } },
        { offset: 4, command: { kind: 'RELEASE', eventId: 'cancel9', orderId: 'o9' } },
      ],
      -1,
    );
    expect(res.applied.find((r) => r.eventId === 'ship1')).toMatchObject({
      status: 'dup',
      why: 'ALREADY_COMMITTED',
    });
    expect(res.applied.find((r) => r.eventId === 'cancel1')).toMatchObject({
      status: 'skip',
      why: 'NOTHING_HELD_C',
    });
    expect(res.applied.find((r) => r.eventId === 'cancel9')).toMatchObject({
      status: 'dlq',
      why: 'UNKNOWN_ORDER',
    });
    expect(await store.getSku('A')).toMatchObject({ onHand: 0, reserved: 0, available: 0 });
    expect(await store.getOrder('o1')).toMatchObject({ state: 'COMMITTED' });
  });

  it('catalogue updates are last-writer-wins by version and fire alerts on threshold crossings', async () => {
    await store.applyBatch('stock', 0, [{ offset: 0, command: receiveCommand('r1', 'A', 5) }], -1);
    const raised = await store.applyCatalogue([
      { sku: 'A', version: 3, lowStockThreshold: 6, safetyStock: 1 },
    ]);
    expect(raised[0]?.outputs).toEqual([{ k: 'alert', sku: 'A', kind: 'LOW_STOCK', on: 5, rs: 0, th: 6 }]);
    const stale = await store.applyCatalogue([
      { sku: 'A', version: 2, lowStockThreshold: 0, safetyStock: 0 },
    ]);
    expect(stale[0]?.status).toBe('stale');
    expect(await store.getSku('A')).toMatchObject({
      lowStockThreshold: 6,
      safetyStock: 1,
      catalogueVersion: 3,
    });
  });
});
