import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ShipmentStore } from '../../processors/logistics/store.js';
import { OrderStore } from '../../processors/orders/store.js';
import { DLQ_HEADERS } from '../../runtime/dead-letter.js';
import { readTopicToEnd } from '../../runtime/topic-reader.js';
import { signOrderEvent } from '../../schemas/order-signature.js';
import type { CarrierEvent, OrderEvent, OrderStatusChanged } from '../../schemas/types.js';
import { inventoryRun, type InventoryRun } from '../helpers/inventory-run.js';
import { testKafka } from '../helpers/pipeline.js';
import { killAll, waitFor, type Spawned } from '../helpers/processes.js';
import { order, product, stock } from '../helpers/produce.js';
import { deleteTag, uniqueTag } from '../helpers/redis.js';

const SECRET = 'test-signing-secret-0123456789';
const DEADLINE_MS = 4_000;

describe('orders and logistics end to end (real Kafka, Redis, three processor processes)', () => {
  const kafka = testKafka('orders-pipeline');
  let run: InventoryRun;
  let orders: OrderStore;
  let shipments: ShipmentStore;
  const orderTag = uniqueTag('ord');
  const shipTag = uniqueTag('shp');
  let orderProcess: Spawned;

  const startOrders = () =>
    run.startOrders(orderTag, {
      ORDERS_PAYMENT_DEADLINE_MS: String(DEADLINE_MS),
      ORDERS_EXPIRY_SWEEP_MS: '200',
      ORDER_SIGNING_SECRET: SECRET,
    });

  const signed = (fields: Parameters<typeof order>[0]): OrderEvent => signOrderEvent(order(fields), SECRET);
  const sendOrders = (events: OrderEvent[]) =>
    run.producer.send(
      'orders',
      events.map((e) => ({ key: e.orderId, value: e })),
    );
  const scan = (trk: string, orderId: string, n: number, type: CarrierEvent['type']): CarrierEvent => ({
    eventId: `${trk}-${n}`,
    trackingNumber: trk,
    carrier: 'DHL',
    orderId,
    type,
    occurredAt: Date.now() - 60_000 + n * 1_000,
    location: 'Hamburg',
    promisedDeliveryAt: null,
    detail: null,
  });
  const stateOf = async (orderId: string) => (await orders.get(orderId))?.state ?? null;
  const available = async (sku: string) => {
    const s = await run.store.getSku(sku);
    return s ? s.onHand - s.reserved : null;
  };

  beforeAll(async () => {
    run = await inventoryRun(kafka, 'ordflow');
    orders = new OrderStore(run.redis, {
      keyTag: orderTag,
      paymentDeadlineMs: DEADLINE_MS,
      finalOrderTtlSeconds: 3600,
    });
    shipments = new ShipmentStore(run.redis, {
      keyTag: shipTag,
      silenceMs: 3_600_000,
      finalTtlSeconds: 3600,
    });
    await run.producer.send('catalogue', [
      { key: `${run.prefix}A`, value: product(`${run.prefix}A`) },
      { key: `${run.prefix}E`, value: product(`${run.prefix}E`) },
    ]);
    await run.producer.send('stock', [
      { key: `${run.prefix}A`, value: stock(`${run.prefix}s1`, `${run.prefix}A`, 'RECEIVED', 10) },
      { key: `${run.prefix}E`, value: stock(`${run.prefix}s2`, `${run.prefix}E`, 'RECEIVED', 10) },
    ]);
    run.start({ ORDER_SIGNING_SECRET: SECRET });
    orderProcess = startOrders();
    run.startLogistics(shipTag, { ORDER_SIGNING_SECRET: SECRET });
  }, 120_000);

  afterAll(async () => {
    await killAll();
    await deleteTag(run.redis, orderTag);
    await deleteTag(run.redis, shipTag);
    await deleteTag(run.redis, run.tag);
    await run.close();
  });

  it('an order flows to delivered through its shipment; tampered and illegal events never reach state', async () => {
    const sku = `${run.prefix}A`;
    const line = [{ sku, quantity: 2, unitPriceMinor: 999 }];
    const oid = (s: string) => `${run.prefix}${s}`;
    // stock and orders are separate topics: let the receipt land before the orders come
    await waitFor('opening stock applied', async () => (await available(sku)) === 10, 60_000);
    const tampered = {
      ...signed({ eventId: `${oid('B')}-p`, orderId: oid('B'), type: 'PLACED', lines: line }),
    };
    tampered.lines = [{ sku, quantity: 5, unitPriceMinor: 999 }];
    await sendOrders([
      signed({ eventId: `${oid('A')}-p`, orderId: oid('A'), type: 'PLACED', lines: line }),
      tampered,
      order({ eventId: `${oid('C')}-p`, orderId: oid('C'), type: 'PLACED', lines: line }),
      signed({ eventId: `${oid('D')}-p`, orderId: oid('D'), type: 'PLACED', lines: line }),
    ]);
    await waitFor('A reserved', async () => (await stateOf(oid('A'))) === 'RESERVED', 60_000);
    await sendOrders([
      signed({ eventId: `${oid('A')}-pay`, orderId: oid('A'), type: 'PAID', paymentId: 'pay-1' }),
      signed({ eventId: `${oid('D')}-c`, orderId: oid('D'), type: 'CANCELLED', reason: 'changed mind' }),
    ]);
    await waitFor('D cancelled', async () => (await stateOf(oid('D'))) === 'CANCELLED', 30_000);
    // paying a cancelled order changes nothing and raises a refund alert (one-fate.test.ts)
    await sendOrders([
      signed({ eventId: `${oid('D')}-pay`, orderId: oid('D'), type: 'PAID', paymentId: 'pay-2' }),
    ]);
    await waitFor('A paid', async () => (await stateOf(oid('A'))) === 'PAID', 30_000);

    const trk = `${run.prefix}TRK-A`;
    await run.producer.send(
      'carrier',
      (['LABEL_CREATED', 'PICKED_UP', 'IN_TRANSIT', 'OUT_FOR_DELIVERY', 'DELIVERED'] as const).map(
        (t, i) => ({
          key: trk,
          value: scan(trk, oid('A'), i, t),
        }),
      ),
    );
    await waitFor('A delivered', async () => (await stateOf(oid('A'))) === 'DELIVERED', 60_000);

    const a = await orders.get(oid('A'));
    expect(a?.history.map((t) => t.to)).toEqual(['PLACED', 'RESERVED', 'PAID', 'SHIPPED', 'DELIVERED']);
    expect(a?.trackingNumber).toBe(trk);
    expect((await shipments.get(trk))?.status).toBe('DELIVERED');
    // the stock went with the order: committed on payment, nothing reserved for the bad ones
    await run.caughtUp();
    expect(await run.store.getSku(sku)).toMatchObject({ onHand: 8, reserved: 0 });
    expect(await orders.get(oid('B'))).toBeNull();
    expect(await orders.get(oid('C'))).toBeNull();
    expect(await run.store.getOrder(oid('B'))).toBeNull();
    expect(await run.store.getOrder(oid('C'))).toBeNull();
    expect(await stateOf(oid('D'))).toBe('CANCELLED');

    const dead: { order: string; reason: string; processor: string }[] = [];
    await readTopicToEnd(kafka, `${run.prefix}orders.dlq`, (m) => {
      dead.push({
        order: m.key?.toString() ?? '',
        reason: m.headers[DLQ_HEADERS.reason]?.toString() ?? '',
        processor: m.headers[DLQ_HEADERS.processor]?.toString() ?? '',
      });
    });
    expect(dead).toEqual(
      expect.arrayContaining([
        { order: oid('B'), reason: 'BAD_SIGNATURE', processor: 'inventory' },
        { order: oid('B'), reason: 'BAD_SIGNATURE', processor: 'orders' },
        { order: oid('C'), reason: 'MISSING_SIGNATURE', processor: 'inventory' },
        { order: oid('C'), reason: 'MISSING_SIGNATURE', processor: 'orders' },
      ]),
    );
    expect(dead.filter((d) => d.order === oid('D'))).toEqual([]);

    const status: OrderStatusChanged[] = [];
    await readTopicToEnd(kafka, `${run.prefix}order-status`, async (m) => {
      const s = await run.codec.decode('order-status', m.value);
      if (s.orderId === oid('A')) status.push(s);
    });
    const unique = [...new Map(status.map((s) => [s.transitionId, s])).values()];
    expect(unique.map((s) => [s.fromState, s.toState, s.cause])).toEqual([
      [null, 'PLACED', 'PLACED'],
      ['PLACED', 'RESERVED', 'RESERVED'],
      ['RESERVED', 'PAID', 'PAID'],
      ['PAID', 'SHIPPED', 'SHIPPED'],
      ['SHIPPED', 'DELIVERED', 'DELIVERED'],
    ]);
  }, 180_000);

  it('an unpaid order expires after its deadline even across a processor crash, and its stock is released', async () => {
    const sku = `${run.prefix}E`;
    const orderId = `${run.prefix}E1`;
    await sendOrders([
      signed({
        eventId: `${orderId}-p`,
        orderId,
        type: 'PLACED',
        lines: [{ sku, quantity: 3, unitPriceMinor: null }],
      }),
    ]);
    await waitFor('E reserved', async () => (await stateOf(orderId)) === 'RESERVED', 60_000);
    expect(await available(sku)).toBe(7);

    // the order processor dies right after reserving; the deadline passes while it is down
    orderProcess.child.kill('SIGKILL');
    await orderProcess.exited;
    const deadline = (await orders.get(orderId))?.paymentDeadline ?? 0;
    await new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now()) + 1_000));
    expect(await stateOf(orderId)).toBe('RESERVED');
    expect(await available(sku)).toBe(7);

    orderProcess = startOrders();
    await waitFor('E expired', async () => (await stateOf(orderId)) === 'EXPIRED', 60_000);
    await waitFor('E stock released', async () => (await available(sku)) === 10, 30_000);
    const history = (await orders.get(orderId))?.history ?? [];
    expect(history.map((t) => t.to)).toEqual(['PLACED', 'RESERVED', 'EXPIRED']);
    expect(history.at(-1)?.src).toBe(`expire.${orderId}`);
  }, 180_000);
});
