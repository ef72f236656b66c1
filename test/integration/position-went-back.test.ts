import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StockStore } from '../../processors/inventory/store.js';
import { ShipmentStore } from '../../processors/logistics/store.js';
import { OrderStore } from '../../processors/orders/store.js';
import { PositionLostError } from '../../runtime/chunk-positions.js';
import { deleteTag, testRedis, uniqueTag } from '../helpers/redis.js';
import { receiveCommand } from '../helpers/stock-commands.js';

/** The error a refused call throws, or a failure naming what happened instead. */
async function refusal(call: Promise<unknown>): Promise<PositionLostError> {
  try {
    await call;
  } catch (err) {
    if (err instanceof PositionLostError) return err;
    throw err;
  }
  throw new Error('the call was applied on a position below what its caller had applied');
}

/**
 * A call that reaches Redis after a failover lost writes its caller had applied (a command a
 * client queued across the reconnection) must not decide anything on that state: every apply
 * script compares each partition's position with the caller's last applied offset first.
 */
describe('apply scripts refuse a partition whose position went back below the caller (real Redis)', () => {
  let redis: Redis;
  const tags = ['stock', 'orders', 'ship'].map((n) => uniqueTag(`back-${n}`));
  beforeAll(() => {
    redis = testRedis();
  });
  afterAll(async () => {
    for (const t of tags) await deleteTag(redis, t);
    await redis.quit();
  });

  it('stock: nothing applied, and the partition resumes after where Redis stands', async () => {
    const store = new StockStore(redis, { keyTag: tags[0] as string });
    await store.applyCatalogue([{ sku: 'A', version: 1, lowStockThreshold: 0, safetyStock: 0 }]);
    await store.applyBatch('stock', 3, [{ offset: 10, command: receiveCommand('b10', 'A', 4) }], -1);
    // this instance had applied up to offset 14; Redis now stands at 10 (writes 11..14 lost)
    const err = await refusal(
      store.applyBatches([
        {
          topic: 'stock',
          partition: 3,
          items: [{ offset: 15, command: receiveCommand('b15', 'A', 1) }],
          trimUpTo: -1,
          expectedApplied: 14,
        },
      ]),
    );
    expect([...err.resumeAt]).toEqual([['stock:3', 11]]);
    expect((await store.getSku('A'))?.onHand).toBe(4);
    expect((await store.appliedPosition('stock', 3)).highest).toBe(10);
    // where Redis stands is what the caller expects: applied
    await store.applyBatches([
      {
        topic: 'stock',
        partition: 3,
        items: [{ offset: 11, command: receiveCommand('b11', 'A', 1) }],
        trimUpTo: -1,
        expectedApplied: 10,
      },
    ]);
    expect((await store.getSku('A'))?.onHand).toBe(5);
  });

  it('orders: nothing applied, and the partition resumes after where Redis stands', async () => {
    const store = new OrderStore(redis, {
      keyTag: tags[1] as string,
      paymentDeadlineMs: 60_000,
      finalOrderTtlSeconds: 3600,
    });
    const placed = { eventId: 'o1-p', orderId: 'o1', cause: 'PLACED' as const, occurredAt: 1_000 };
    await store.apply([placed], 2_000, [{ topic: 'orders', partition: 0, upTo: 7 }]);
    const paid = { eventId: 'o1-pay', orderId: 'o1', cause: 'PAID' as const, occurredAt: 3_000 };
    const err = await refusal(
      store.apply([paid], 4_000, [{ topic: 'orders', partition: 0, upTo: 12, expectedApplied: 9 }]),
    );
    expect([...err.resumeAt]).toEqual([['orders:0', 8]]);
    expect((await store.get('o1'))?.state).toBe('PLACED');
    expect((await store.appliedPosition('orders', 0)).lowest).toBe(7);
  });

  it('shipments: nothing applied, and the partition resumes after where Redis stands', async () => {
    const store = new ShipmentStore(redis, {
      keyTag: tags[2] as string,
      silenceMs: 3_600_000,
      finalTtlSeconds: 3600,
    });
    const scan = (n: number) => ({
      eventId: `T1-${n}`,
      trackingNumber: 'T1',
      carrier: 'DHL',
      orderId: null,
      type: n === 0 ? ('LABEL_CREATED' as const) : ('PICKED_UP' as const),
      occurredAt: 1_000 + n,
      location: null,
      promisedDeliveryAt: null,
      detail: null,
    });
    await store.apply([scan(0)], 2_000, [{ topic: 'carrier', partition: 1, upTo: 3 }]);
    const err = await refusal(
      store.apply([scan(1)], 3_000, [{ topic: 'carrier', partition: 1, upTo: 6, expectedApplied: 5 }]),
    );
    expect([...err.resumeAt]).toEqual([['carrier:1', 4]]);
    expect((await store.get('T1'))?.status).toBe('LABEL_CREATED');
  });
});
