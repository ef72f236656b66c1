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
import { placeCommand } from '../helpers/stock-commands.js';
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

  it('sharded stock spreads SKUs over the nodes; an order spanning nodes is reserved all-or-nothing', async () => {
    const tag = uniqueTag('cshard');
    const store = new StockStore(cluster, { keyTag: tag, shards: 6 });
    const skus = Array.from({ length: 12 }, (_, i) => `S-${i}`);
    try {
      await store.applyCatalogue(
        skus.map((sku) => ({ sku, version: 1, lowStockThreshold: 0, safetyStock: 0 })),
      );
      await store.applyBatch(
        'stock',
        0,
        skus.map((sku, i) => ({
          offset: i,
          command: { kind: 'RECEIVED' as const, eventId: `r-${sku}`, sku, quantity: 3 },
        })),
        -1,
      );
      const holders = new Map<number, number>();
      for (const node of cluster.nodes('master')) {
        for (const keys of store.shards.keys) {
          const [, found] = await node.scan('0', 'MATCH', keys.skuBucketPattern(), 'COUNT', 1000);
          holders.set(
            node.options.port as number,
            (holders.get(node.options.port as number) ?? 0) + found.length,
          );
        }
      }
      // six tags over three masters: SKU state on more than one node
      expect([...holders.values()].filter((n) => n > 0).length, JSON.stringify([...holders])).toBeGreaterThan(
        1,
      );

      // two SKUs on different nodes, one of them short: nothing held anywhere
      // the processors' ACL user may not ask CLUSTER KEYSLOT: an admin connection does
      const admin = createRedis({ REDIS_URL: 'redis://127.0.0.1:1', REDIS_CLUSTER_NODES: nodes }) as Cluster;
      await admin.cluster('SLOTS');
      const slotTable = (admin as unknown as { slots: string[][] }).slots;
      const nodeOf = async (sku: string) => {
        const slot = Number(await admin.call('CLUSTER', 'KEYSLOT', store.shards.keysOfSku(sku).sku(sku)));
        return slotTable[slot]?.[0];
      };
      const located = await Promise.all(skus.map(async (sku) => [sku, await nodeOf(sku)] as const));
      const a = located[0] as readonly [string, string];
      const b = located.find(([, node]) => node !== a[1]) as readonly [string, string];
      expect(b, 'a SKU on another node').toBeDefined();
      admin.disconnect();
      const short = await store.applyBatch(
        'orders',
        0,
        [
          {
            offset: 0,
            command: placeCommand(
              'o1',
              [
                [a[0], 2],
                [b[0], 4],
              ],
              'p1',
            ),
          },
        ],
        -1,
      );
      expect(short.applied.find((r) => r.eventId === 'p1')?.outputs[0]).toMatchObject({
        outcome: 'REJECTED',
      });
      expect((await store.getSku(a[0]))?.reserved).toBe(0);
      expect((await store.getSku(b[0]))?.reserved).toBe(0);
      const covered = await store.applyBatch(
        'orders',
        0,
        [
          {
            offset: 1,
            command: placeCommand(
              'o2',
              [
                [a[0], 2],
                [b[0], 3],
              ],
              'p2',
            ),
          },
        ],
        0,
      );
      expect(covered.applied.find((r) => r.eventId === 'p2')?.outputs[0]).toMatchObject({
        outcome: 'RESERVED',
      });
      expect((await store.getSku(a[0]))?.reserved).toBe(2);
      expect((await store.getSku(b[0]))?.reserved).toBe(3);
      expect((await store.getOrder('o2'))?.state).toBe('RESERVED');
    } finally {
      for (const keys of store.shards.keys) {
        for (const node of cluster.nodes('master')) {
          const [, found] = await node.scan('0', 'MATCH', keys.allPattern(), 'COUNT', 1000);
          for (const k of found) await cluster.unlink(k);
        }
      }
    }
  });

  it('stock and order processors configured with REDIS_CLUSTER_NODES do their job on the cluster', async () => {
    const { prefix, producer } = run;
    // the stock processor spreads its state over six tags; the two SKUs are on different ones
    const SHARDS = 6;
    const store = new StockStore(cluster, { keyTag: run.tag, shards: SHARDS });
    const sku = `${prefix}CL-1`;
    let n = 2;
    while (store.shards.ofSku(`${prefix}CL-${n}`) === store.shards.ofSku(sku)) n++;
    const sku2 = `${prefix}CL-${n}`;
    for (const s of [sku, sku2]) {
      await producer.send('catalogue', [{ key: s, value: product(s) }]);
      await producer.send('stock', [{ key: s, value: stock(`${prefix}s-${s}`, s, 'RECEIVED', 6) }]);
    }
    const clusterEnv = {
      REDIS_URL: 'redis://pipeline:pipeline-local-only@127.0.0.1:1',
      REDIS_CLUSTER_NODES: nodes.join(','),
    };
    run.start({ ...clusterEnv, INVENTORY_SHARDS: String(SHARDS) });
    run.startOrders(tags.ord, clusterEnv);
    await waitFor(
      'receipts applied on the cluster',
      async () => (await store.getSku(sku))?.onHand === 6 && (await store.getSku(sku2))?.onHand === 6,
      60_000,
    );
    // two orders fit on both SKUs; the third asks more of the second than was ever received,
    // so it is held nowhere in whatever order the partitions are applied
    const orderLines: [number, number][] = [
      [2, 2],
      [2, 2],
      [1, 7],
    ];
    await producer.send(
      'orders',
      orderLines.map(([q1, q2], i) => ({
        key: `${prefix}o${i + 1}`,
        value: order({
          eventId: `${prefix}o${i + 1}`,
          orderId: `${prefix}o${i + 1}`,
          type: 'PLACED',
          lines: [
            { sku, quantity: q1, unitPriceMinor: null },
            { sku: sku2, quantity: q2, unitPriceMinor: null },
          ],
        }),
      })),
    );
    await run.caughtUp();
    expect(await store.getSku(sku)).toMatchObject({ onHand: 6, reserved: 4 });
    expect(await store.getSku(sku2)).toMatchObject({ onHand: 6, reserved: 4 });
    expect((await store.getOrder(`${prefix}o3`))?.state).toBe('REJECTED');
    const orders = new OrderStore(cluster, {
      keyTag: tags.ord,
      paymentDeadlineMs: 1,
      finalOrderTtlSeconds: 1,
    });
    await waitFor(
      'orders reserved and rejected on the cluster',
      async () =>
        (await groupLag(testKafka('cluster-lag'), `${prefix}orders`, [`${prefix}orders`])) === 0 &&
        (await orders.get(`${prefix}o2`))?.state === 'RESERVED' &&
        (await orders.get(`${prefix}o3`))?.state === 'REJECTED',
      60_000,
    );
    // nothing of it went to the single Redis the other tests use
    expect(await run.store.getSku(sku)).toBeNull();
  }, 180_000);
});
