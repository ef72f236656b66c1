import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrderStore } from '../../processors/orders/store.js';
import { DLQ_HEADERS } from '../../runtime/dead-letter.js';
import { headerString, readTopicToEnd } from '../../runtime/topic-reader.js';
import type { OrderEvent } from '../../schemas/types.js';
import { testKafka } from '../helpers/pipeline.js';
import { inventoryRun, type InventoryRun } from '../helpers/inventory-run.js';
import { killAll, waitFor, groupLag } from '../helpers/processes.js';
import { order, product, stock } from '../helpers/produce.js';
import { deleteTag, uniqueTag } from '../helpers/redis.js';

const kafka = testKafka('fate');

/**
 * Events that contradict an order's state reach both the stock and the order processor; the
 * two must give the order one fate: the physical world wins for stock (goods that left are
 * deducted, goods that never left come back), the order side keeps its state and raises the
 * alert that names the anomaly.
 */
describe('one fate per order across the stock and the order processor (real processes)', () => {
  let run: InventoryRun;
  const orderTag = uniqueTag('fate-ord');
  beforeAll(async () => {
    run = await inventoryRun(kafka, 'fate');
  });
  afterAll(async () => {
    await killAll();
    await deleteTag(run.redis, run.tag);
    await deleteTag(run.redis, orderTag);
    await run.close();
  });

  it('shipped unpaid, paid after cancel, cancelled after payment, shipped after cancel', async () => {
    const sku = `${run.prefix}A`;
    const oid = (s: string) => `${run.prefix}${s}`;
    run.start();
    run.startOrders(orderTag);
    await run.producer.send('catalogue', [{ key: sku, value: product(sku) }]);
    await run.producer.send('stock', [{ key: sku, value: stock(`${run.prefix}r`, sku, 'RECEIVED', 20) }]);
    await waitFor('stock', async () => (await run.store.getSku(sku))?.onHand === 20, 60_000);

    const ev = (id: string, type: OrderEvent['type'], q = 0) =>
      order({
        eventId: `${oid(id)}-${type}`,
        orderId: oid(id),
        type,
        ...(type === 'PLACED' ? { lines: [{ sku, quantity: q, unitPriceMinor: 100 }] } : {}),
        ...(type === 'PAID' ? { paymentId: `pay-${id}` } : {}),
        ...(type === 'SHIPPED' ? { trackingNumber: `trk-${id}`, carrier: 'DHL' } : {}),
      });
    const send = (events: OrderEvent[]) =>
      run.producer.send(
        'orders',
        events.map((e) => ({ key: e.orderId, value: e })),
      );
    // each order's events in one produce: one partition, in this order
    await send([ev('unpaid', 'PLACED', 1), ev('unpaid', 'SHIPPED')]);
    await send([ev('paidlate', 'PLACED', 2), ev('paidlate', 'CANCELLED'), ev('paidlate', 'PAID')]);
    await send([ev('refund', 'PLACED', 3), ev('refund', 'PAID'), ev('refund', 'CANCELLED')]);
    await send([ev('recall', 'PLACED', 4), ev('recall', 'CANCELLED'), ev('recall', 'SHIPPED')]);

    const orders = new OrderStore(run.redis, {
      keyTag: orderTag,
      paymentDeadlineMs: 600_000,
      finalOrderTtlSeconds: 600,
    });
    await run.caughtUp();
    await waitFor(
      'order processor caught up',
      async () =>
        (await groupLag(kafka, `${run.prefix}orders`, [
          `${run.prefix}orders`,
          `${run.prefix}reservation-results`,
        ])) === 0,
      120_000,
    );

    // stock: 20 - 1 (shipped unpaid) - 4 (shipped after its cancellation) = 15; the paid and then
    // cancelled order's 3 units came back; nothing is held
    expect(await run.store.getSku(sku)).toMatchObject({ onHand: 15, reserved: 0 });
    const holds = Object.fromEntries(
      await Promise.all(
        ['unpaid', 'paidlate', 'refund', 'recall'].map(async (id) => [
          id,
          (await run.store.getOrder(oid(id)))?.state,
        ]),
      ),
    );
    expect(holds).toEqual({ unpaid: 'SHIPPED', paidlate: 'RELEASED', refund: 'RELEASED', recall: 'SHIPPED' });

    const states = Object.fromEntries(
      await Promise.all(
        ['unpaid', 'paidlate', 'refund', 'recall'].map(async (id) => [
          id,
          (await orders.get(oid(id)))?.state,
        ]),
      ),
    );
    expect(states).toEqual({
      unpaid: 'SHIPPED',
      paidlate: 'CANCELLED',
      refund: 'CANCELLED',
      recall: 'CANCELLED',
    });

    const alerts = (await run.alerts())
      .filter((a) => a.source === 'ORDERS')
      .map((a) => `${a.subjectKey.slice(run.prefix.length)}:${a.kind}`);
    expect([...new Set(alerts)].sort()).toEqual([
      'paidlate:PAID_CANCELLED',
      'recall:SHIPPED_CANCELLED',
      'unpaid:SHIPPED_UNPAID',
    ]);

    // none of it is an error: nothing dead-lettered by either processor
    const dead: string[] = [];
    await readTopicToEnd(kafka, `${run.prefix}orders.dlq`, (m) => {
      dead.push(`${m.key?.toString()}:${headerString(m.headers, DLQ_HEADERS.reason)}`);
    });
    expect(dead).toEqual([]);
  }, 180_000);
});
