import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StockStore } from '../../processors/inventory/store.js';
import { ShipmentStore } from '../../processors/logistics/store.js';
import { OrderStore } from '../../processors/orders/store.js';
import { createRedis } from '../../runtime/redis.js';
import { inventoryRun, type InventoryRun } from '../helpers/inventory-run.js';
import { testKafka, testStack } from '../helpers/pipeline.js';
import { groupLag, killAll, waitFor } from '../helpers/processes.js';
import { order, product, stock } from '../helpers/produce.js';
import { deleteTag, uniqueTag } from '../helpers/redis.js';
import { projectRoot } from '../helpers/stack-env.js';

const clusterCommand = (command: string) =>
  spawnSync('bash', [join(projectRoot, 'deploy/stack.sh'), command], {
    env: { ...process.env, ...testStack().env },
    encoding: 'utf8',
  });

describe('Redis Cluster: three redis-server nodes in cluster mode, the same scripts', () => {
  let cluster: Cluster;
  let nodes: string[];
  let run: InventoryRun;
  const tags = { inv: uniqueTag('cinv'), ord: uniqueTag('cord'), shp: uniqueTag('cshp') };

  beforeAll(async () => {
    const up = clusterCommand('cluster-up');
    expect(up.status, up.stderr).toBe(0);
    nodes = (testStack().env.REDIS_CLUSTER_PORTS ?? '').split(' ').map((p) => `127.0.0.1:${p}`);
    cluster = createRedis({
      REDIS_URL: 'redis://pipeline:pipeline-local-only@127.0.0.1:1',
      REDIS_CLUSTER_NODES: nodes,
    }) as Cluster;
    run = await inventoryRun(testKafka('cluster'), 'cluster');
  }, 120_000);

  afterAll(async () => {
    await killAll();
    cluster?.disconnect();
    if (run) {
      await deleteTag(run.redis, run.tag);
      await run.close();
    }
    const down = clusterCommand('cluster-down');
    expect(down.status, down.stderr).toBe(0);
  });

  it("each processor's keys are one slot on one node; every script runs there, a multi-line order all-or-nothing", async () => {
    // three masters share the 16384 slots
    const admin = createRedis({ REDIS_URL: 'redis://127.0.0.1:1', REDIS_CLUSTER_NODES: nodes }) as Cluster;
    const slots = (await admin.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
    expect(new Set(slots.map((r) => r[2][1])).size).toBe(3);
    expect(slots.reduce((n, [from, to]) => n + to - from + 1, 0)).toBe(16_384);

    const stockStore = new StockStore(cluster, { keyTag: tags.inv });
    await stockStore.applyCatalogue(
      ['A', 'B', 'C'].map((sku) => ({ sku, version: 1, lowStockThreshold: 0, safetyStock: 0 })),
    );
    await stockStore.applyBatch(
      'stock',
      0,
      ['A', 'B', 'C'].map((sku, i) => ({
        offset: i,
        command: { kind: 'RECEIVED' as const, eventId: `r-${sku}`, sku, quantity: sku === 'C' ? 1 : 5 },
      })),
      -1,
    );
    const lines = ['A', 'B', 'C'].map((sku) => ({ sku, quantity: 2 }));
    await stockStore.applyBatch(
      'orders',
      0,
      [{ offset: 0, command: { kind: 'PLACE', eventId: 'p1', orderId: 'o1', lines } }],
      -1,
    );
    // C is short: nothing of the order is held anywhere
    for (const sku of ['A', 'B', 'C']) expect((await stockStore.getSku(sku))?.reserved, sku).toBe(0);
    await stockStore.applyBatch(
      'orders',
      0,
      [{ offset: 1, command: { kind: 'PLACE', eventId: 'p2', orderId: 'o2', lines: lines.slice(0, 2) } }],
      -1,
    );
    expect((await stockStore.getSku('A'))?.reserved).toBe(2);
    expect((await stockStore.getSku('B'))?.reserved).toBe(2);

    const orders = new OrderStore(cluster, {
      keyTag: tags.ord,
      paymentDeadlineMs: 60_000,
      finalOrderTtlSeconds: 60,
    });
    await orders.apply([
      { eventId: 'e1', orderId: 'o1', cause: 'PLACED', occurredAt: 1 },
      { eventId: 'e2', orderId: 'o1', cause: 'RESERVED', occurredAt: 2 },
    ]);
    expect((await orders.get('o1'))?.state).toBe('RESERVED');
    expect(await orders.claimDueExpiries(Date.now() + 120_000, 10, 1_000)).toHaveLength(1);

    const shipments = new ShipmentStore(cluster, {
      keyTag: tags.shp,
      silenceMs: 60_000,
      finalTtlSeconds: 60,
    });
    await shipments.apply([
      {
        eventId: 's1',
        trackingNumber: 'T1',
        carrier: 'DHL',
        orderId: 'o1',
        type: 'DELIVERED',
        occurredAt: 5,
        location: null,
        promisedDeliveryAt: null,
        detail: null,
      },
    ]);
    expect((await shipments.get('T1'))?.status).toBe('DELIVERED');

    // every processor's keys sit on exactly one node: each script call was one slot
    for (const tag of Object.values(tags)) {
      const holders = [];
      for (const node of admin.nodes('master')) {
        const [, keys] = await node.scan('0', 'MATCH', `{${tag}}:*`, 'COUNT', 1000);
        if (keys.length) holders.push(node.options.port);
      }
      expect(holders, tag).toHaveLength(1);
    }
    admin.disconnect();
  });

  it('stock and order processors configured with REDIS_CLUSTER_NODES do their job on the cluster', async () => {
    const { prefix, producer } = run;
    const sku = `${prefix}CL-1`;
    await producer.send('catalogue', [{ key: sku, value: product(sku) }]);
    await producer.send('stock', [{ key: sku, value: stock(`${prefix}s`, sku, 'RECEIVED', 6) }]);
    const clusterEnv = {
      REDIS_URL: 'redis://pipeline:pipeline-local-only@127.0.0.1:1',
      REDIS_CLUSTER_NODES: nodes.join(','),
    };
    run.start(clusterEnv);
    run.startOrders(tags.ord, clusterEnv);
    const store = new StockStore(cluster, { keyTag: run.tag });
    await waitFor(
      'receipt applied on the cluster',
      async () => (await store.getSku(sku))?.onHand === 6,
      60_000,
    );
    await producer.send(
      'orders',
      [1, 2].map((i) => ({
        key: `${prefix}o${i}`,
        value: order({
          eventId: `${prefix}o${i}`,
          orderId: `${prefix}o${i}`,
          type: 'PLACED',
          lines: [{ sku, quantity: 2, unitPriceMinor: null }],
        }),
      })),
    );
    await run.caughtUp();
    expect(await store.getSku(sku)).toMatchObject({ onHand: 6, reserved: 4 });
    const orders = new OrderStore(cluster, {
      keyTag: tags.ord,
      paymentDeadlineMs: 1,
      finalOrderTtlSeconds: 1,
    });
    await waitFor(
      'orders reserved on the cluster',
      async () =>
        (await groupLag(testKafka('cluster-lag'), `${prefix}orders`, [`${prefix}orders`])) === 0 &&
        (await orders.get(`${prefix}o2`))?.state === 'RESERVED',
      60_000,
    );
    // nothing of it went to the single Redis the other tests use
    expect(await run.store.getSku(sku)).toBeNull();
  }, 180_000);
});
