import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DLQ_HEADERS } from '../../runtime/dead-letter.js';
import { headerString, readTopicToEnd } from '../../runtime/topic-reader.js';
import { StockStore } from '../../processors/inventory/store.js';
import { PrivateRedis } from '../../scripts/private-redis.js';
import { testKafka } from '../helpers/pipeline.js';
import { inventoryRun, type InventoryRun } from '../helpers/inventory-run.js';
import { freePort, killAll, waitFor } from '../helpers/processes.js';
import { order, product, stock } from '../helpers/produce.js';
import { deleteTag } from '../helpers/redis.js';

const kafka = testKafka('poison');

async function deadLetters(run: InventoryRun, topic: string) {
  const out: { reason: string; detail: string; partition: string; offset: string }[] = [];
  await readTopicToEnd(kafka, `${run.prefix}${topic}`, (m) => {
    out.push({
      reason: headerString(m.headers, DLQ_HEADERS.reason) ?? '',
      detail: headerString(m.headers, DLQ_HEADERS.detail) ?? '',
      partition: headerString(m.headers, DLQ_HEADERS.partition) ?? '',
      offset: headerString(m.headers, DLQ_HEADERS.offset) ?? '',
    });
  });
  return out;
}

const alertKinds = async (run: InventoryRun) => (await run.alerts()).map((a) => a.kind);

describe('a poisoned event is isolated; a stalled partition is reported (real processes)', () => {
  let run: InventoryRun;
  beforeAll(async () => {
    run = await inventoryRun(kafka, 'poison');
  });
  afterAll(async () => {
    await killAll();
    await deleteTag(run.redis, run.tag);
    await run.close();
  });

  it('dead-letters the one event whose processing fails and applies the rest of its chunk and partition', async () => {
    const proc = run.start();
    const sku = (s: string) => `${run.prefix}${s}`;
    await run.producer.send(
      'catalogue',
      ['A', 'B', 'P'].map((s) => ({ key: sku(s), value: product(sku(s)) })),
    );
    await waitFor('catalogue applied', async () => (await run.store.getSku(sku('P'))) !== null, 60_000);
    // a SKU record that is not a number: every script call touching it fails, every time
    await run.redis.hset(run.store.shards.keysOfSku(sku('P')).sku(sku('P')), sku('P'), 'garbage');

    // one message key: one partition, one chunk, the poisoned event in its middle
    await run.producer.send('stock', [
      { key: 'K', value: stock(`${run.prefix}r-a`, sku('A'), 'RECEIVED', 5) },
      { key: 'K', value: stock(`${run.prefix}r-p`, sku('P'), 'RECEIVED', 3) },
      { key: 'K', value: stock(`${run.prefix}r-b`, sku('B'), 'RECEIVED', 4) },
    ]);
    // stock and orders are separate topics, applied in no guaranteed order between them: the
    // receipts must be in before the orders that need them
    await waitFor('receipts applied', async () => (await run.store.getSku(sku('B')))?.onHand === 4, 60_000);
    await run.producer.send('orders', [
      {
        key: 'K',
        value: order({
          eventId: `${run.prefix}pl-1`,
          orderId: `${run.prefix}o1`,
          type: 'PLACED',
          lines: [
            { sku: sku('A'), quantity: 1, unitPriceMinor: 1 },
            { sku: sku('P'), quantity: 1, unitPriceMinor: 1 },
          ],
        }),
      },
      {
        key: 'K',
        value: order({
          eventId: `${run.prefix}pl-2`,
          orderId: `${run.prefix}o2`,
          type: 'PLACED',
          lines: [{ sku: sku('B'), quantity: 2, unitPriceMinor: 1 }],
        }),
      },
    ]);
    await run.caughtUp();
    // the partition goes on after it
    await run.producer.send('stock', [
      { key: 'K', value: stock(`${run.prefix}r-a2`, sku('A'), 'RECEIVED', 1) },
    ]);
    await run.caughtUp();

    expect(await run.store.getSku(sku('A'))).toMatchObject({ onHand: 6, reserved: 0 });
    expect(await run.store.getSku(sku('B'))).toMatchObject({ onHand: 4, reserved: 2 });
    // all or nothing: the order with a poisoned line holds nothing, not even its good line
    expect(await run.store.getOrder(`${run.prefix}o1`)).toBeNull();
    expect((await run.store.getOrder(`${run.prefix}o2`))?.state).toBe('RESERVED');

    const poisoned = { reason: 'PROCESSING_ERROR', detail: expect.stringMatching(/corrupt SKU record/) };
    const stockDead = await deadLetters(run, 'stock.dlq');
    expect(stockDead).toEqual([{ ...poisoned, partition: expect.any(String), offset: '1' }]);
    const orderDead = await deadLetters(run, 'orders.dlq');
    expect(orderDead).toEqual([{ ...poisoned, partition: expect.any(String), offset: '0' }]);
    // nothing restarted, and the position covers every message of the partition
    expect(proc.child.exitCode).toBeNull();
    const position = await run.store.appliedPosition(`${run.prefix}stock`, Number(stockDead[0]?.partition));
    expect(position.lowest).toBe(3);
    proc.child.kill('SIGTERM');
    expect((await proc.exited).code).toBe(0);
  }, 120_000);

  it('dead-letters nothing when every call of the partition fails, not one event: it stalls and resumes', async () => {
    const health = await freePort();
    const proc = run.start({
      INVENTORY_GROUP_ID: `${run.group}-blame`,
      PROCESSOR_STALL_AFTER_MS: '3000',
      HEALTH_PORT: String(health),
    });
    const readyz = async () => (await fetch(`http://127.0.0.1:${health}/readyz`)).status;
    const sku = `${run.prefix}T`;
    await run.producer.send('catalogue', [{ key: sku, value: product(sku) }]);
    await run.producer.send('stock', [{ key: 'T', value: stock(`${run.prefix}t-1`, sku, 'RECEIVED', 2) }]);
    await waitFor('first receipt', async () => (await run.store.getSku(sku))?.onHand === 2, 60_000);
    await waitFor('ready', async () => (await readyz()) === 200, 30_000);
    const deadBefore = (await deadLetters(run, 'stock.dlq')).length;

    // every partition position of the stock topic holds the wrong type: every call on it fails
    // the same way (WRONGTYPE), with or without any particular event
    const positions = await run.redis.keys(`{${run.tag}}:wm:${run.prefix}stock:*`);
    const saved = await Promise.all(positions.map(async (k) => [k, await run.redis.get(k)] as const));
    for (const k of positions) await run.redis.del(k).then(() => run.redis.hset(k, 'broken', '1'));

    await run.producer.send('stock', [
      { key: 'T', value: stock(`${run.prefix}t-2`, sku, 'RECEIVED', 3) },
      { key: 'T', value: stock(`${run.prefix}t-3`, sku, 'RECEIVED', 4) },
    ]);
    await waitFor('stall alert', async () => (await alertKinds(run)).includes('PROCESSOR_STALLED'), 60_000);
    expect(await readyz()).toBe(503);
    expect(await deadLetters(run, 'stock.dlq')).toHaveLength(deadBefore);

    for (const [k, v] of saved) await run.redis.del(k).then(() => run.redis.set(k, v ?? '-1'));
    await waitFor('both receipts applied', async () => (await run.store.getSku(sku))?.onHand === 9, 60_000);
    await waitFor(
      'recovery alert',
      async () => (await alertKinds(run)).includes('PROCESSOR_RECOVERED'),
      30_000,
    );
    expect(await deadLetters(run, 'stock.dlq')).toHaveLength(deadBefore);
    expect(proc.child.exitCode).toBeNull();
    proc.child.kill('SIGTERM');
    expect((await proc.exited).code).toBe(0);
  }, 180_000);

  it('turns not ready and alerts when Redis is gone, and recovers when it is back', async () => {
    const port = await freePort();
    const server = await PrivateRedis.start(port);
    const client = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 1 });
    client.on('error', () => undefined); // refused while the test has Redis down
    const store = new StockStore(client, { keyTag: run.tag });
    const health = await freePort();
    const proc = run.start({
      REDIS_URL: `redis://127.0.0.1:${port}`,
      INVENTORY_GROUP_ID: `${run.group}-stall`,
      PROCESSOR_STALL_AFTER_MS: '3000',
      HEALTH_PORT: String(health),
    });
    const readyz = async () => {
      const res = await fetch(`http://127.0.0.1:${health}/readyz`);
      return { status: res.status, text: await res.text() };
    };
    try {
      const sku = `${run.prefix}S`;
      await run.producer.send('catalogue', [{ key: sku, value: product(sku) }]);
      await run.producer.send('stock', [{ key: 'S', value: stock(`${run.prefix}s-1`, sku, 'RECEIVED', 2) }]);
      await waitFor('first receipt', async () => (await store.getSku(sku))?.onHand === 2, 60_000);
      await waitFor('ready', async () => (await readyz()).status === 200, 30_000);

      await server.stop('SIGKILL');
      await run.producer.send('stock', [{ key: 'S', value: stock(`${run.prefix}s-2`, sku, 'RECEIVED', 3) }]);
      await waitFor(
        'not ready: stalled',
        async () => {
          const r = await readyz();
          return r.status === 503 && r.text.includes('stalled');
        },
        60_000,
      );
      await waitFor('stall alert', async () => (await alertKinds(run)).includes('PROCESSOR_STALLED'), 30_000);
      expect(proc.child.exitCode).toBeNull();

      await server.restart();
      await waitFor(
        'second receipt applied once Redis is back',
        async () => (await store.getSku(sku))?.onHand === 5,
        60_000,
      );
      await waitFor('ready again', async () => (await readyz()).status === 200, 30_000);
      await waitFor(
        'recovery alert',
        async () => (await alertKinds(run)).includes('PROCESSOR_RECOVERED'),
        30_000,
      );
    } finally {
      proc.child.kill('SIGKILL');
      await proc.exited;
      client.disconnect();
      await server.remove();
    }
  }, 180_000);
});
