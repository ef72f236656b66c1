import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { migrateLayout } from '../../processors/inventory/ops.js';
import { StockStore } from '../../processors/inventory/store.js';
import { placeCommand, receiveCommand } from '../helpers/stock-commands.js';
import { deleteTag, testRedis, uniqueTag } from '../helpers/redis.js';

// Stock spread over three hash tags: A, C and G fall on shards 0, 1 and 2. An order whose
// lines span shards is reserved tentatively on each, then confirmed or aborted: these tests
// check all-or-nothing, that an aborted order leaves no trace in holds or alerts, and that a
// batch dying between its shard calls is repaired by its redelivery. (Level alerts only: the
// stock-out predictions of these commands, timed now, are covered in forecast-scripts.test.ts.)
describe('sharded stock: orders spanning shards (real Redis)', () => {
  let redis: Redis;
  let store: StockStore;
  let tag: string;
  const SHARDS = 3;
  beforeAll(() => {
    redis = testRedis();
  });
  beforeEach(async () => {
    tag = uniqueTag('shards');
    store = new StockStore(redis, { keyTag: tag, shards: SHARDS });
    expect(['A', 'C', 'G'].map((s) => store.shards.ofSku(s))).toEqual([0, 1, 2]);
    await store.applyCatalogue([
      { sku: 'A', version: 1, lowStockThreshold: 1, safetyStock: 0 },
      { sku: 'C', version: 1, lowStockThreshold: 0, safetyStock: 0 },
      { sku: 'G', version: 1, lowStockThreshold: 0, safetyStock: 0 },
    ]);
    await store.applyBatch(
      'stock',
      0,
      [
        { offset: 0, command: receiveCommand('r1', 'A', 5) },
        { offset: 1, command: receiveCommand('r2', 'C', 2) },
        { offset: 2, command: receiveCommand('r3', 'G', 9) },
      ],
      -1,
    );
  });
  afterEach(async () => {
    await deleteTag(redis, tag);
  });
  afterAll(async () => {
    await redis.quit();
  });

  const levels = async () =>
    Object.fromEntries(
      await Promise.all(
        ['A', 'C', 'G'].map(async (s) => {
          const st = await store.getSku(s);
          return [s, [st?.onHand, st?.reserved]];
        }),
      ),
    );
  const tentativeRecords = async () => {
    const out: string[] = [];
    for (const keys of store.shards.keys) {
      // every SCAN round: one round with a COUNT sees only part of a larger keyspace
      let cursor = '0';
      do {
        const [next, found] = await redis.scan(cursor, 'MATCH', keys.order('*'), 'COUNT', 10_000);
        for (const k of found) if ((await redis.get(k))?.startsWith('T|')) out.push(k);
        cursor = next;
      } while (cursor !== '0');
    }
    return out;
  };

  it('the shard count is recorded with the data; a process with another count refuses to start', async () => {
    await store.checkLayout();
    await store.checkLayout(); // the same count again: fine
    for (const other of [1, 2]) {
      await expect(new StockStore(redis, { keyTag: tag, shards: other }).checkLayout()).rejects.toThrow(
        `written with INVENTORY_SHARDS=${SHARDS}; this process has ${other}`,
      );
    }
  });

  it('SKU records of an earlier version (a hash per SKU) are refused until migrated in place', async () => {
    const t = uniqueTag('migrate');
    const store = new StockStore(redis, { keyTag: t, shards: SHARDS });
    // what an earlier version left: the shard count alone as layout, one hash per SKU
    await redis.set(`{${t}.0}:layout`, String(SHARDS));
    const old = {
      A: { on: 7, rs: 2, v: 4, th: 1, sf: 0, cv: 3, lv: 0 },
      G: { on: 0, rs: 0, v: 0, th: 5, sf: 1, cv: 1, lv: -1 },
    };
    for (const [sku, h] of Object.entries(old)) {
      await redis.hset(`{${store.shards.keysOfSku(sku).tag}}:s:${sku}`, h);
    }
    // a receipt applied an hour ago, remembered by a key of its own for the rest of 31 days
    await redis.set(`{${store.shards.keysOfSku('A').tag}}:e:old-receipt`, '1', 'EX', 31 * 86_400 - 3_600);
    await expect(store.checkLayout()).rejects.toThrow('stock migrate-layout');
    expect(await migrateLayout(store)).toEqual({ skus: 2, eventIds: 1 });
    await store.checkLayout();
    expect(await store.getSku('A')).toMatchObject({
      onHand: 7,
      reserved: 2,
      version: 4,
      lowStockThreshold: 1,
      catalogueVersion: 3,
    });
    expect(await store.getSku('G')).toMatchObject({
      onHand: 0,
      lowStockThreshold: 5,
      safetyStock: 1,
      level: -1,
    });
    for (const sku of Object.keys(old)) {
      expect(await redis.exists(`{${store.shards.keysOfSku(sku).tag}}:s:${sku}`)).toBe(0);
    }
    // the scripts go on from the migrated records
    await store.applyBatch('stock', 0, [{ offset: 0, command: receiveCommand('mig-1', 'A', 3) }], -1);
    expect(await store.getSku('A')).toMatchObject({ onHand: 10, reserved: 2, version: 5 });
    // the migrated id is still a duplicate
    const again = await store.applyBatch(
      'stock',
      0,
      [{ offset: 1, command: receiveCommand('old-receipt', 'A', 3) }],
      0,
    );
    expect(again.applied[0]?.status).toBe('dup');
    expect(await store.getSku('A')).toMatchObject({ onHand: 10 });
    // run again (an interrupted migration is finished the same way): nothing left to move
    expect(await migrateLayout(store)).toEqual({ skus: 0, eventIds: 0 });
    await deleteTag(redis, t);
  });

  it('keys of each shard are in one slot, and SKUs are spread over the shards', async () => {
    const slots = await Promise.all(
      store.shards.keys.map((k) => redis.call('CLUSTER', 'KEYSLOT', k.sku('x')).catch(() => null)),
    );
    // a plain (non-cluster) test Redis may refuse CLUSTER; the tags still differ
    expect(new Set(store.shards.keys.map((k) => k.sku('x').split('}')[0])).size).toBe(SHARDS);
    if (slots.every((s) => s !== null)) expect(new Set(slots).size).toBe(SHARDS);
  });

  it('an order short on one shard is rejected whole: the other shards give their units back, no alert', async () => {
    const res = await store.applyBatch(
      'orders',
      0,
      [
        {
          offset: 0,
          command: placeCommand('o1', [
            ['A', 4],
            ['C', 3],
            ['G', 1],
          ]),
        },
      ],
      -1,
    );
    expect(res.applied.filter((r) => r.eventId)).toEqual([
      {
        offset: 0,
        eventId: 'pl-o1',
        status: 'ok',
        outputs: [
          {
            k: 'result',
            outcome: 'REJECTED',
            oid: 'o1',
            lines: [
              { sku: 'A', quantity: 4 },
              { sku: 'C', quantity: 3 },
              { sku: 'G', quantity: 1 },
            ],
            shortages: [{ sku: 'C', requested: 3, available: 2 }],
          },
        ],
      },
    ]);
    expect(await levels()).toEqual({ A: [5, 0], C: [2, 0], G: [9, 0] });
    expect((await store.getOrder('o1'))?.state).toBe('REJECTED');
    // the changelog owes A and G a record, and what it publishes is their state after the abort
    const owed = (
      await Promise.all(
        store.shards.keys.map(
          async (_, shard) => (await store.changelog.claimLevels(shard, 100, 60_000, '0', 0)).levels,
        ),
      )
    ).flat();
    expect(owed.find((l) => l.sku === 'A')).toMatchObject({ onHand: 5, reserved: 0 });
    expect(owed.find((l) => l.sku === 'G')).toMatchObject({ onHand: 9, reserved: 0 });
    expect(await tentativeRecords()).toEqual([]);
    // a payment for it holds nothing anywhere
    const paid = await store.applyBatch(
      'orders',
      0,
      [{ offset: 1, command: { kind: 'PAY', eventId: 'pay', orderId: 'o1' } }],
      0,
    );
    expect(paid.applied.find((r) => r.eventId === 'pay')).toMatchObject({ status: 'skip' });
    expect(await levels()).toEqual({ A: [5, 0], C: [2, 0], G: [9, 0] });
  });

  it('an order covered on every shard is reserved once, with the alerts its lines crossed', async () => {
    const res = await store.applyBatch(
      'orders',
      0,
      [
        {
          offset: 0,
          command: placeCommand('o2', [
            ['A', 4],
            ['C', 2],
          ]),
        },
      ],
      -1,
    );
    const own = res.applied.find((r) => r.eventId === 'pl-o2');
    expect(own?.outputs[0]).toMatchObject({ k: 'result', outcome: 'RESERVED', oid: 'o2', shortages: [] });
    expect(
      own?.outputs
        .filter((o) => o.k === 'alert' && !o.kind.startsWith('STOCKOUT'))
        .map((o) => (o.k === 'alert' ? `${o.kind}:${o.sku}` : ''))
        .sort(),
    ).toEqual(['LOW_STOCK:A', 'OUT_OF_STOCK:C']);
    expect(res.appliedCount).toBe(1);
    expect(await levels()).toEqual({ A: [5, 4], C: [2, 2], G: [9, 0] });

    // paid: both shards deduct, one COMMITTED result with every line
    const paid = await store.applyBatch(
      'orders',
      0,
      [{ offset: 1, command: { kind: 'PAY', eventId: 'pay', orderId: 'o2' } }],
      0,
    );
    const committed = paid.applied.find((r) => r.eventId === 'pay');
    expect(committed?.outputs[0]).toMatchObject({ k: 'result', outcome: 'COMMITTED' });
    expect(committed?.outputs[0]?.k === 'result' && committed.outputs[0].lines.length).toBe(2);
    expect(await levels()).toEqual({ A: [1, 0], C: [0, 0], G: [9, 0] });
    expect((await store.getOrder('o2'))?.state).toBe('COMMITTED');
  });

  it('an unknown SKU on one shard dead-letters the order and the others hold nothing', async () => {
    const res = await store.applyBatch(
      'orders',
      0,
      [
        {
          offset: 0,
          command: placeCommand('o3', [
            ['A', 1],
            ['GHOST', 1],
          ]),
        },
      ],
      -1,
    );
    expect(res.applied.find((r) => r.eventId === 'pl-o3')).toMatchObject({
      status: 'dlq',
      why: 'UNKNOWN_SKU',
    });
    expect(await levels()).toEqual({ A: [5, 0], C: [2, 0], G: [9, 0] });
    expect(await tentativeRecords()).toEqual([]);
  });

  it('a batch that died after its tentative holds is settled by its redelivery, and publishes the same result', async () => {
    const batch = [
      // spans A and G; its hold takes A low (threshold 1): an alert deferred to the confirmation
      {
        offset: 0,
        command: placeCommand('o4', [
          ['A', 4],
          ['G', 3],
        ] as [string, number][]),
      },
      // touches G, held tentatively by o4: waits for the next round; C is short, so it is aborted
      {
        offset: 1,
        command: placeCommand('o5', [
          ['C', 5],
          ['G', 1],
        ] as [string, number][]),
      },
    ];
    // defining the scripts (in the constructor) replaces them on the client: patch after
    const crashing = new StockStore(redis, { keyTag: tag, shards: SHARDS });
    const client = redis as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
    const original = client['apply-stock-batchBuffer'] as (...a: unknown[]) => Promise<unknown>;
    let calls = 0;
    // the process dies right after the first round's calls: no settling call gets through
    client['apply-stock-batchBuffer'] = function (this: unknown, ...args: unknown[]) {
      const settling = String(args[1 + Number(args[0])]).includes('"w":0');
      if (settling) return Promise.reject(new Error('killed before settling'));
      calls++;
      return original.apply(this, args);
    };
    try {
      await expect(crashing.applyBatch('orders', 0, batch, -1)).rejects.toThrow('killed before settling');
    } finally {
      client['apply-stock-batchBuffer'] = original;
    }
    // o4 on shards 0 and 2, then o5 on shard 1; its call to shard 2 carries o4's settling and dies
    expect(calls).toBe(3);
    expect((await tentativeRecords()).length).toBe(2);
    expect(await levels()).toEqual({ A: [5, 4], C: [2, 0], G: [9, 3] });

    // a new instance gets the same offsets again
    const res = await store.applyBatch('orders', 0, batch, -1);
    expect(res.appliedCount).toBe(1);
    expect(res.redeliveredCount).toBe(1);
    const own = (r: { eventId?: string }) => r.eventId !== undefined;
    const results = [...res.replayed, ...res.applied].filter(own).sort((x, y) => x.offset - y.offset);
    expect(
      results.map((r) => [
        r.eventId,
        r.outputs[0]?.k === 'result' ? r.outputs[0].outcome : r.status,
        r.outputs
          .filter((o) => o.k === 'alert' && !o.kind.startsWith('STOCKOUT'))
          .map((o) => (o.k === 'alert' ? `${o.kind}:${o.sku}` : '')),
      ]),
    ).toEqual([
      ['pl-o4', 'RESERVED', ['LOW_STOCK:A']],
      ['pl-o5', 'REJECTED', []],
    ]);
    expect(await tentativeRecords()).toEqual([]);
    expect(await levels()).toEqual({ A: [5, 4], C: [2, 0], G: [9, 3] });
    expect((await store.getOrder('o4'))?.state).toBe('RESERVED');
    expect((await store.getOrder('o5'))?.state).toBe('REJECTED');

    // and once more (nothing confirmed published): nothing changes, the same results come back
    const again = await store.applyBatch('orders', 0, batch, -1);
    expect(again.appliedCount).toBe(0);
    expect(again.replayed.filter(own)).toEqual(results);
    expect(await levels()).toEqual({ A: [5, 4], C: [2, 0], G: [9, 3] });
  });

  it('a batch that died between two shards of the same round is completed by its redelivery', async () => {
    const batch = [
      {
        offset: 0,
        command: placeCommand('o6', [
          ['A', 1],
          ['C', 1],
        ]),
      },
    ];
    // defining the scripts (in the constructor) replaces them on the client: patch after
    const crashing = new StockStore(redis, { keyTag: tag, shards: SHARDS });
    const client = redis as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
    const original = client['apply-stock-batchBuffer'] as (...a: unknown[]) => Promise<unknown>;
    client['apply-stock-batchBuffer'] = function (this: unknown, ...args: unknown[]) {
      // shard 1's call never reaches Redis
      if ((args.slice(1, 1 + Number(args[0])) as string[]).some((k) => k.startsWith(`{${tag}.1}`)))
        return Promise.reject(new Error('killed'));
      return original.apply(this, args);
    };
    try {
      await expect(crashing.applyBatch('orders', 0, batch, -1)).rejects.toThrow('killed');
    } finally {
      client['apply-stock-batchBuffer'] = original;
    }
    expect(await levels()).toEqual({ A: [5, 1], C: [2, 0], G: [9, 0] });
    const res = await store.applyBatch('orders', 0, batch, -1);
    // applied now on shard 1, replayed from shard 0: one event, counted once
    expect(res.appliedCount).toBe(1);
    expect(res.redeliveredCount).toBe(0);
    expect(res.applied.find((r) => r.eventId === 'pl-o6')?.outputs[0]).toMatchObject({ outcome: 'RESERVED' });
    expect(await levels()).toEqual({ A: [5, 1], C: [2, 1], G: [9, 0] });
    expect(await tentativeRecords()).toEqual([]);
  });
});
