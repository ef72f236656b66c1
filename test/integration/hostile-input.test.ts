import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrderStore } from '../../processors/orders/store.js';
import { DLQ_HEADERS } from '../../runtime/dead-letter.js';
import { redriveDeadLetters, summarizeDeadLetters } from '../../runtime/dlq-ops.js';
import { readTopicToEnd } from '../../runtime/topic-reader.js';
import { signOrderEvent } from '../../schemas/order-signature.js';
import type { StockEvent } from '../../schemas/types.js';
import { HOSTILE_CLASSES, hostileMessages, type HostileMessage } from '../../scripts/hostile-input.js';
import { inventoryRun, type InventoryRun } from '../helpers/inventory-run.js';
import { groupLag, killAll, waitFor, type Spawned } from '../helpers/processes.js';
import { testKafka } from '../helpers/pipeline.js';
import { order, product, stock } from '../helpers/produce.js';
import { deleteTag, uniqueTag } from '../helpers/redis.js';

const SECRET = 'hostile-test-secret-0123456789';
const ROUNDS = 3;
const SKUS = 3;

describe('hostile input mixed into a good stream (real Kafka, Redis, three processors)', () => {
  const kafka = testKafka('hostile');
  let run: InventoryRun;
  const orderTag = uniqueTag('hord');
  const shipTag = uniqueTag('hshp');
  const processes: Spawned[] = [];

  beforeAll(async () => {
    run = await inventoryRun(kafka, 'hostile');
  });
  afterAll(async () => {
    await killAll();
    await deleteTag(run.redis, orderTag);
    await deleteTag(run.redis, shipTag);
    await deleteTag(run.redis, run.tag);
    await run.close();
  });

  it('every bad message is dead-lettered with its reason, every good one applied, no processor restarts; redrive after the fix', async () => {
    const { prefix, producer } = run;
    const sku = (i: number) => `${prefix}H-${i}`;
    await producer.send(
      'catalogue',
      Array.from({ length: SKUS }, (_, i) => ({ key: sku(i), value: product(sku(i)) })),
    );
    const receipts: StockEvent[] = [];
    for (let i = 0; i < SKUS; i++) {
      for (let j = 0; j < 40; j++) receipts.push(stock(`${prefix}r-${i}-${j}`, sku(i), 'RECEIVED', 5));
    }
    processes.push(run.start({ ORDER_SIGNING_SECRET: SECRET }));
    processes.push(
      run.startOrders(orderTag, { ORDER_SIGNING_SECRET: SECRET }),
      run.startLogistics(shipTag, { ORDER_SIGNING_SECRET: SECRET }),
    );

    const hostile: HostileMessage[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      hostile.push(
        ...(await hostileMessages(
          {
            codec: run.codec,
            knownSku: sku(0),
            appliedStockEvent: receipts[0] as StockEvent,
            signingSecret: SECRET,
          },
          round,
        )),
      );
    }
    const sendHostile = async (topic: HostileMessage['topic']) => {
      for (const h of hostile.filter((x) => x.topic === topic)) await producer.sendRaw(topic, [h.message]);
    };

    // good receipts with the stock-topic hostiles in between, then orders with theirs
    await producer.send(
      'stock',
      receipts.slice(0, 60).map((r) => ({ key: r.sku, value: r })),
    );
    await sendHostile('stock');
    await producer.send(
      'stock',
      receipts.slice(60).map((r) => ({ key: r.sku, value: r })),
    );
    await waitFor(
      'receipts applied',
      async () => (await run.store.getSku(sku(SKUS - 1)))?.onHand === 200,
      60_000,
    );
    const reserved = new Map<string, number>();
    const orders = Array.from({ length: 60 }, (_, i) => {
      const lines = [{ sku: sku(i % SKUS), quantity: 1 + (i % 3), unitPriceMinor: null }];
      for (const l of lines) reserved.set(l.sku, (reserved.get(l.sku) ?? 0) + l.quantity);
      return signOrderEvent(
        order({ eventId: `${prefix}o-${i}`, orderId: `${prefix}o-${i}`, type: 'PLACED', lines }),
        SECRET,
      );
    });
    await producer.send(
      'orders',
      orders.slice(0, 30).map((o) => ({ key: o.orderId, value: o })),
    );
    await sendHostile('orders');
    await sendHostile('carrier');
    await producer.send(
      'orders',
      orders.slice(30).map((o) => ({ key: o.orderId, value: o })),
    );

    await run.caughtUp();
    await waitFor(
      'orders caught up',
      async () => (await groupLag(kafka, `${prefix}orders`, [`${prefix}orders`])) === 0,
      120_000,
    );
    await waitFor(
      'logistics caught up',
      async () => (await groupLag(kafka, `${prefix}logistics`, [`${prefix}carrier`])) === 0,
      120_000,
    );

    // every bad message is in a dead-letter topic, with the reason each processor gave it
    const seen = new Map<string, Map<string, string[]>>(); // class -> processor -> reasons
    let untagged = 0;
    for (const input of ['stock', 'orders', 'carrier']) {
      await readTopicToEnd(kafka, `${prefix}${input}.dlq`, (m) => {
        const cls = m.headers['hostile.class']?.toString();
        if (!cls) {
          untagged += 1;
          return;
        }
        const processor = m.headers[DLQ_HEADERS.processor]?.toString() ?? '';
        const byProcessor = seen.get(cls) ?? new Map<string, string[]>();
        byProcessor.set(processor, [
          ...(byProcessor.get(processor) ?? []),
          m.headers[DLQ_HEADERS.reason]?.toString() ?? '',
        ]);
        seen.set(cls, byProcessor);
      });
    }
    const classes = new Set(hostile.map((h) => h.cls));
    expect(classes.size).toBe(HOSTILE_CLASSES.length);
    for (const cls of classes) {
      const expected = (hostile.find((h) => h.cls === cls) as HostileMessage).expect;
      const got = Object.fromEntries([...(seen.get(cls) ?? new Map<string, string[]>())]);
      expect(got, cls).toEqual(
        Object.fromEntries(Object.entries(expected).map(([p, r]) => [p, Array(ROUNDS).fill(r)])),
      );
    }
    expect(untagged).toBe(0); // no good message was dead-lettered

    // every good event applied exactly once; the re-sent receipt with another quantity was not
    for (let i = 0; i < SKUS; i++) {
      expect(await run.store.getSku(sku(i)), sku(i)).toMatchObject({
        onHand: 200,
        reserved: reserved.get(sku(i)),
      });
    }
    const orderStore = new OrderStore(run.redis, {
      keyTag: orderTag,
      paymentDeadlineMs: 1_800_000,
      finalOrderTtlSeconds: 3600,
    });
    for (const o of orders) expect((await orderStore.get(o.orderId))?.state, o.orderId).toBe('RESERVED');
    // and no processor restarted or died on the way
    for (const p of processes) {
      expect(p.child.exitCode).toBeNull();
      expect(p.child.signalCode).toBeNull();
      expect(p.output()).not.toMatch(/"level":60|failed to start/);
    }

    const summary = await summarizeDeadLetters(kafka, [`${prefix}stock.dlq`, `${prefix}orders.dlq`]);
    expect(summary.find((g) => g.processor === 'inventory' && g.reason === 'UNKNOWN_SKU')?.count).toBe(
      ROUNDS,
    );

    // the fix for UNKNOWN_SKU is a catalogue entry; then the dead letters go back and apply
    const unknown = hostile
      .filter((h) => h.cls === 'UNKNOWN_SKU')
      .map((h) => h.message.key?.toString() ?? '');
    await producer.send(
      'catalogue',
      unknown.map((s) => ({ key: s, value: product(s) })),
    );
    await waitFor('catalogue tailed', async () => {
      const report = await redriveDeadLetters(kafka, `${prefix}stock.dlq`, {
        reason: 'UNKNOWN_SKU',
        dryRun: true,
      });
      return report.matched === ROUNDS;
    });
    await new Promise((r) => setTimeout(r, 2_000)); // the processor's catalogue tail picks the entries up
    const report = await redriveDeadLetters(kafka, `${prefix}stock.dlq`, { reason: 'UNKNOWN_SKU' });
    expect(report).toEqual({ matched: ROUNDS, redriven: ROUNDS, sameOriginal: 0, tooOld: 0 });
    await run.caughtUp();
    for (const s of unknown) expect((await run.store.getSku(s))?.onHand, s).toBe(1);
  }, 300_000);
});
