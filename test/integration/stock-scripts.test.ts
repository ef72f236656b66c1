import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { InventoryKeys } from '../../processors/inventory/keys.js';
import { StockStore } from '../../processors/inventory/store.js';
import { placeCommand, receiveCommand } from '../helpers/stock-commands.js';
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

  it('remembers a stock event id for the window only, and a crowded bucket sheds the ids out of it', async () => {
    const short = new StockStore(redis, { keyTag: tag, eventIdTtlSeconds: 3_600 });
    const keys = short.shards.keys[0] as InventoryKeys;
    const minute = Math.floor(Date.now() / 60_000);
    // ids of one bucket: 130 applied two hours ago (out of the window), one an hour minus a minute ago
    const bucket = keys.eventIdBucket('w-0');
    const same: string[] = [];
    for (let i = 0; same.length < 132; i++) if (keys.eventIdBucket(`w-${i}`) === bucket) same.push(`w-${i}`);
    const [recent, fresh, ...old] = same as [string, string, ...string[]];
    for (const id of old) await redis.hset(bucket, id, minute - 120);
    await redis.hset(bucket, recent, minute - 59);

    let offset = 0;
    const receive = (id: string) =>
      short.applyBatch('stock', 7, [{ offset, command: receiveCommand(id, 'A', 1) }], offset++ - 1);
    expect((await receive(recent)).applied[0]).toMatchObject({ status: 'dup' });
    // out of the window: a new event as far as de-duplication can know
    expect((await receive(old[0] as string)).appliedCount).toBe(1);
    expect((await receive(fresh)).appliedCount).toBe(1);
    expect((await receive(fresh)).applied[0]).toMatchObject({ status: 'dup' });
    expect((await store.getSku('A'))?.onHand).toBe(2);
    // the bucket had grown past 128: what is out of the window went, what is in it stayed
    const left = await redis.hgetall(bucket);
    expect(Object.keys(left).sort()).toEqual(['', old[0], recent, fresh].sort());
    expect(await redis.ttl(bucket)).toBeGreaterThan(3_500);
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

  it('payment commits, shipment and cancellation move the hold once; unknown SKUs and orders are dead-lettered', async () => {
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
        { offset: 0, command: placeCommand('o1', [['A', 3]], 'p1') },
        { offset: 1, command: { kind: 'PAY', eventId: 'pay1', orderId: 'o1' } },
        { offset: 2, command: { kind: 'PAY', eventId: 'pay2', orderId: 'o1' } },
        { offset: 3, command: { kind: 'SHIP', eventId: 'ship1', orderId: 'o1' } },
        { offset: 4, command: { kind: 'CANCEL', eventId: 'cancel1', orderId: 'o1' } },
        { offset: 5, command: { kind: 'CANCEL', eventId: 'cancel9', orderId: 'o9' } },
        { offset: 6, command: { kind: 'DELIVER', eventId: 'deliver1', orderId: 'o1' } },
        { offset: 7, command: { kind: 'SHIP', eventId: 'ship1-resent', orderId: 'o1' } },
      ],
      -1,
    );
    const of = (id: string) => res.applied.find((r) => r.eventId === id);
    expect(of('pay1')?.outputs[0]).toMatchObject({ k: 'result', outcome: 'COMMITTED' });
    expect(of('pay2')).toMatchObject({ status: 'dup', why: 'ALREADY_COMMITTED' });
    // already deducted at payment: the shipment only moves the record
    expect(of('ship1')).toMatchObject({ status: 'ok', why: 'SHIPPED_AFTER_PAYMENT', outputs: [] });
    expect(of('cancel1')).toMatchObject({ status: 'skip', why: 'ALREADY_SHIPPED' });
    expect(of('cancel9')).toMatchObject({ status: 'dlq', why: 'UNKNOWN_ORDER' });
    // the delivery after the shipment is the order's course, not a duplicate; a second shipment is
    expect(of('deliver1')).toMatchObject({ status: 'skip', why: 'DELIVERED_AFTER_SHIPMENT', outputs: [] });
    expect(of('ship1-resent')).toMatchObject({ status: 'dup', why: 'ALREADY_SHIPPED' });
    expect(await store.getSku('A')).toMatchObject({ onHand: 0, reserved: 0, available: 0 });
    expect(await store.getOrder('o1')).toMatchObject({ state: 'SHIPPED' });
  });

  it('one fate per order: the physical world wins for stock', async () => {
    await store.applyBatch('stock', 0, [{ offset: 0, command: receiveCommand('r1', 'A', 10) }], -1);
    const res = await store.applyBatch(
      'orders',
      0,
      [
        // paid, then cancelled before it shipped: the units go back on the shelf
        { offset: 0, command: placeCommand('paid-cancelled', [['A', 2]]) },
        { offset: 1, command: { kind: 'PAY', eventId: 'pc-pay', orderId: 'paid-cancelled' } },
        { offset: 2, command: { kind: 'CANCEL', eventId: 'pc-cancel', orderId: 'paid-cancelled' } },
        // cancelled, then shipped anyway: the goods left, so they are deducted and reported
        { offset: 3, command: placeCommand('cancelled-shipped', [['A', 3]]) },
        { offset: 4, command: { kind: 'CANCEL', eventId: 'cs-cancel', orderId: 'cancelled-shipped' } },
        { offset: 5, command: { kind: 'SHIP', eventId: 'cs-ship', orderId: 'cancelled-shipped' } },
        // shipped unpaid: deducted at shipment; an expiry afterwards changes nothing
        { offset: 6, command: placeCommand('unpaid-shipped', [['A', 1]]) },
        { offset: 7, command: { kind: 'SHIP', eventId: 'us-ship', orderId: 'unpaid-shipped' } },
        { offset: 8, command: { kind: 'EXPIRE', eventId: 'us-expire', orderId: 'unpaid-shipped' } },
        // paid, then an expiry that was already on its way: the payment stands
        { offset: 9, command: placeCommand('paid-expired', [['A', 1]]) },
        { offset: 10, command: { kind: 'PAY', eventId: 'pe-pay', orderId: 'paid-expired' } },
        { offset: 11, command: { kind: 'EXPIRE', eventId: 'pe-expire', orderId: 'paid-expired' } },
      ],
      -1,
    );
    const of = (id: string) => res.applied.find((r) => r.eventId === id);
    expect(of('pc-cancel')?.outputs[0]).toMatchObject({ outcome: 'RELEASED', reason: 'RESTOCKED' });
    expect(of('cs-ship')?.outputs[0]).toMatchObject({ outcome: 'COMMITTED', reason: 'SHIPPED_WITHOUT_HOLD' });
    expect(of('us-ship')?.outputs[0]).toMatchObject({ outcome: 'COMMITTED' });
    expect(of('us-expire')).toMatchObject({ status: 'skip', why: 'ALREADY_SHIPPED' });
    expect(of('pe-expire')).toMatchObject({ status: 'skip', why: 'ALREADY_PAID' });
    // 10 - 3 (shipped after cancel) - 1 (shipped unpaid) - 1 (paid) = 5, nothing held
    expect(await store.getSku('A')).toMatchObject({ onHand: 5, reserved: 0 });
    expect((await store.getOrder('paid-cancelled'))?.state).toBe('RELEASED');
    expect((await store.getOrder('cancelled-shipped'))?.state).toBe('SHIPPED');
    expect((await store.getOrder('paid-expired'))?.state).toBe('COMMITTED');
  });

  it('a corrupt record fails the call before anything of it is written', async () => {
    await store.applyBatch('stock', 0, [{ offset: 0, command: receiveCommand('r1', 'A', 5) }], -1);
    await redis.hset(store.shards.keysOfSku('B').sku('B'), 'B', '1:0:1:0:0:1:x');
    await expect(
      store.applyBatch(
        'stock',
        0,
        [
          { offset: 1, command: receiveCommand('r2', 'A', 5) },
          { offset: 2, command: receiveCommand('r3', 'B', 1) },
        ],
        0,
      ),
    ).rejects.toThrow(/corrupt SKU record/);
    // the receipt before the poisoned one was not applied either, nor its marker, nor the position
    expect((await store.getSku('A'))?.onHand).toBe(5);
    expect(await redis.hexists(store.shards.keys[0]!.eventIdBucket('r2'), 'r2')).toBe(0);
    expect(await store.watermark('stock', 0)).toBe(0);
    const retry = await store.applyBatch(
      'stock',
      0,
      [{ offset: 1, command: receiveCommand('r2', 'A', 5) }],
      0,
    );
    expect(retry.appliedCount).toBe(1);
  });

  it('a chunk with nothing to apply still moves its position', async () => {
    const res = await store.applyBatches([
      { topic: 'stock', partition: 4, items: [], trimUpTo: -1, upTo: 41 },
    ]);
    expect(res[0]?.lastOffset).toBe(41);
    expect(await store.appliedPosition('stock', 4)).toEqual({ lowest: 41, highest: 41 });
  });

  it('catalogue updates are last-writer-wins by version and fire alerts on threshold crossings', async () => {
    await store.applyBatch('stock', 0, [{ offset: 0, command: receiveCommand('r1', 'A', 5) }], -1);
    const raised = await store.applyCatalogue([
      { sku: 'A', version: 3, lowStockThreshold: 6, safetyStock: 1 },
    ]);
    expect(raised[0]?.status).toBe('ok');
    // queued in Redis by the same call, published by the changelog drainer
    const pending = await store.changelog.claimPendingAlerts(0, 10, 60_000);
    expect(pending).toMatchObject([{ sku: 'A', version: 3, kind: 'LOW_STOCK', on: 5, rs: 0, th: 6 }]);
    expect(await store.changelog.claimPendingAlerts(0, 10, 60_000)).toEqual([]); // leased
    await store.changelog.ackPendingAlerts(
      0,
      pending.map((a) => a.member),
    );
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
