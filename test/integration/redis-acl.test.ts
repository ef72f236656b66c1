import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StockStore } from '../../processors/inventory/store.js';
import { OrderStore } from '../../processors/orders/store.js';
import { testKafka, testStack } from '../helpers/pipeline.js';
import { inventoryRun, type InventoryRun } from '../helpers/inventory-run.js';
import { freePort, killAll, waitFor } from '../helpers/processes.js';
import { order, product, stock } from '../helpers/produce.js';
import { deleteTag, uniqueTag } from '../helpers/redis.js';

/** The processors' Redis user: the stack creates it; this is what it may and may not do. */
const pipelineUrl = (password = 'pipeline-local-only') => {
  const url = new URL(testStack().redisUrl);
  url.username = 'pipeline';
  url.password = password;
  return url.toString();
};

describe('Redis ACL user of the processors (real Redis)', () => {
  let pipeline: Redis;
  let run: InventoryRun;
  const tag = uniqueTag('acl');

  beforeAll(async () => {
    pipeline = new Redis(pipelineUrl(), { maxRetriesPerRequest: 1 });
    run = await inventoryRun(testKafka('acl'), 'acl');
  });
  afterAll(async () => {
    await killAll();
    await deleteTag(run.redis, tag);
    await deleteTag(run.redis, run.tag);
    await run.close();
    pipeline.disconnect();
  });

  it('runs every script on hash-tagged keys and nothing that reconfigures, flushes or lists the server', async () => {
    const stockStore = new StockStore(pipeline, { keyTag: tag });
    await stockStore.applyCatalogue([{ sku: 'A', version: 1, lowStockThreshold: 0, safetyStock: 0 }]);
    await stockStore.applyBatch(
      'stock',
      0,
      [{ offset: 0, command: { kind: 'RECEIVED', eventId: 'e1', sku: 'A', quantity: 3 } }],
      -1,
    );
    expect(await stockStore.getSku('A')).toMatchObject({ onHand: 3 });
    const orders = new OrderStore(pipeline, {
      keyTag: tag,
      paymentDeadlineMs: 1000,
      finalOrderTtlSeconds: 60,
    });
    const [placed] = await orders.apply([{ eventId: 'p1', orderId: 'o1', cause: 'PLACED', occurredAt: 1 }]);
    expect(placed?.status).toBe('ok');

    // reading the configuration is allowed: a processor checks its durability policy at start
    expect(await pipeline.config('GET', 'appendfsync')).toEqual(['appendfsync', 'always']);
    for (const refused of [
      () => pipeline.flushall(),
      () => pipeline.config('SET', 'appendfsync', 'no'),
      () => pipeline.keys('*'),
      () => pipeline.call('MONITOR'),
      () => pipeline.call('ACL', 'LIST'),
      () => pipeline.call('SHUTDOWN'),
      () => pipeline.set('not-hash-tagged', '1'),
      () => pipeline.get('not-hash-tagged'),
    ]) {
      await expect(refused()).rejects.toThrow(/NOPERM/);
    }
    const intruder = new Redis(pipelineUrl('wrong'), { lazyConnect: true, retryStrategy: () => null });
    const errors: string[] = [];
    intruder.on('error', (err: Error) => errors.push(err.message));
    await expect(intruder.connect()).rejects.toThrow();
    intruder.disconnect();
    expect(errors.join(' ')).toMatch(/WRONGPASS/);
  });

  it('a stock processor connected as that user does its whole job, and says so on its health endpoints', async () => {
    const sku = `${run.prefix}ACL-1`;
    await run.producer.send('catalogue', [{ key: sku, value: product(sku) }]);
    await run.producer.send('stock', [{ key: sku, value: stock(`${run.prefix}s`, sku, 'RECEIVED', 5) }]);
    const healthPort = await freePort();
    run.start({ REDIS_URL: pipelineUrl(), HEALTH_PORT: String(healthPort) });
    // the probes an orchestrator would use: ready once the consumer has joined its group
    await waitFor(
      'readiness',
      async () => (await fetch(`http://127.0.0.1:${healthPort}/readyz`)).status === 200,
      60_000,
    );
    expect((await fetch(`http://127.0.0.1:${healthPort}/healthz`)).status).toBe(200);
    await run.caughtUp();
    await run.producer.send('orders', [
      {
        key: `${run.prefix}o`,
        value: order({
          eventId: `${run.prefix}o`,
          orderId: `${run.prefix}o`,
          type: 'PLACED',
          lines: [{ sku, quantity: 2, unitPriceMinor: null }],
        }),
      },
    ]);
    await run.caughtUp();
    expect(await run.store.getSku(sku)).toMatchObject({ onHand: 5, reserved: 2 });
  }, 120_000);
});
