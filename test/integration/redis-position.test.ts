import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReplayCorrections } from '../../processors/inventory/corrections.js';
import { reconcile } from '../../processors/inventory/ops.js';
import { InventoryOutputs } from '../../processors/inventory/outputs.js';
import { inventoryProcessor } from '../../processors/inventory/processor.js';
import { StockStore } from '../../processors/inventory/store.js';
import { defaultLimits } from '../../processors/inventory/commands.js';
import type { InputMessage } from '../../runtime/dead-letter.js';
import { createProducer } from '../../runtime/kafka.js';
import type { InputChunk } from '../../runtime/processor-runner.js';
import { readTopicToEnd } from '../../runtime/topic-reader.js';
import type { Alert, ReservationResult } from '../../schemas/types.js';
import { applyTopics } from '../../topics/apply.js';
import { provisionPrefix, testKafka, testStack, uniquePrefix } from '../helpers/pipeline.js';
import { inventoryRun, type InventoryRun } from '../helpers/inventory-run.js';
import { projectRoot } from '../helpers/stack-env.js';
import { groupLag, killAll, waitFor } from '../helpers/processes.js';
import { order, product, stock } from '../helpers/produce.js';
import { deleteTag, testRedis, uniqueTag } from '../helpers/redis.js';

const kafka = testKafka('position');

/** Every key of a tag with its value and remaining TTL: a copy of the state to roll back to. */
async function snapshot(redis: Redis, tag: string): Promise<{ key: string; dump: Buffer; ttl: number }[]> {
  const out: { key: string; dump: Buffer; ttl: number }[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `{${tag}}:*`, 'COUNT', 1000);
    for (const key of keys) {
      const dump = await redis.dumpBuffer(key);
      if (dump) out.push({ key, dump, ttl: Math.max(0, await redis.pttl(key)) });
    }
    cursor = next;
  } while (cursor !== '0');
  return out;
}

async function restore(redis: Redis, tag: string, copy: { key: string; dump: Buffer; ttl: number }[]) {
  await deleteTag(redis, tag);
  for (const { key, dump, ttl } of copy) await redis.restore(key, ttl, dump, 'REPLACE');
}

function cli(args: string[], env: Record<string, string>) {
  const stack = testStack();
  return spawnSync(process.execPath, ['--import', 'tsx', join(projectRoot, 'scripts/cli.ts'), ...args], {
    cwd: projectRoot,
    env: {
      ...process.env,
      KAFKA_BROKERS: stack.brokers.join(','),
      SCHEMA_REGISTRY_URL: stack.registryUrl,
      REDIS_URL: stack.redisUrl,
      LOG_LEVEL: 'warn',
      ...env,
    },
    encoding: 'utf8',
  });
}

describe('Redis decides where a partition resumes (real processes)', () => {
  let run: InventoryRun;
  beforeAll(async () => {
    run = await inventoryRun(kafka, 'position');
  });
  afterAll(async () => {
    await killAll();
    // a test that locks the processors' user out lets it in again even when it fails
    await run.redis.call('ACL', 'SETUSER', 'pipeline', 'on').catch(() => undefined);
    await deleteTag(run.redis, run.tag);
    await run.close();
  });

  it('applies again what Redis lost although the group had committed it; results keep their ids', async () => {
    const sku = `${run.prefix}A`;
    const line = [{ sku, quantity: 3, unitPriceMinor: 1 }];
    let proc = run.start();
    await run.producer.send('catalogue', [{ key: sku, value: product(sku) }]);
    await run.producer.send('stock', [{ key: sku, value: stock(`${run.prefix}r1`, sku, 'RECEIVED', 10) }]);
    await waitFor('receipt', async () => (await run.store.getSku(sku))?.onHand === 10, 60_000);
    await run.caughtUp();
    const copy = await snapshot(run.redis, run.tag);

    const oid = (n: number) => `${run.prefix}o${n}`;
    await run.producer.send('orders', [
      {
        key: 'K',
        value: order({ eventId: `${run.prefix}p1`, orderId: oid(1), type: 'PLACED', lines: line }),
      },
      {
        key: 'K',
        value: order({ eventId: `${run.prefix}p2`, orderId: oid(2), type: 'PLACED', lines: line }),
      },
      { key: 'K', value: order({ eventId: `${run.prefix}c1`, orderId: oid(1), type: 'CANCELLED' }) },
      {
        key: 'K',
        value: order({ eventId: `${run.prefix}y2`, orderId: oid(2), type: 'PAID', paymentId: 'x' }),
      },
    ]);
    await run.caughtUp();
    proc.child.kill('SIGTERM');
    await proc.exited;
    const before = await run.results();

    // Redis comes back from an older copy: the group's committed offsets are ahead of it
    await restore(run.redis, run.tag, copy);
    expect(await run.store.getOrder(oid(2))).toBeNull();
    proc = run.start();
    await waitFor(
      'replayed',
      async () => (await run.store.getOrder(oid(2)))?.state === 'COMMITTED',
      60_000,
    ).catch((err: unknown) => {
      console.log(proc.output());
      throw err;
    });
    await run.caughtUp();
    await waitFor(
      'changelog drained',
      async () => (await run.redis.hlen(`{${run.tag}}:dirty`)) === 0,
      30_000,
    );
    proc.child.kill('SIGTERM');
    await proc.exited;
    // the copy predates every order: Redis held no position for the orders partition at all
    expect(proc.output()).toMatch(
      /Redis holds no position for this partition|Redis is behind the committed offset/,
    );

    expect(await run.store.getSku(sku)).toMatchObject({ onHand: 7, reserved: 0 });
    expect((await run.store.getOrder(oid(1)))?.state).toBe('RELEASED');
    // the same decisions, re-published under the same ids: consumers see nothing new
    expect(await run.results()).toEqual(before);
    expect(await reconcile(run.ops())).toEqual([]);
    // the changelog's last record is the state
    let last: { onHand: number; reserved: number; version: number } | null = null;
    await readTopicToEnd(kafka, `${run.prefix}stock-levels`, async (m) => {
      if (m.key?.toString() === sku) last = await run.codec.decode('stock-levels', m.value);
    });
    const state = await run.store.getSku(sku);
    expect(last).toMatchObject({ onHand: state?.onHand, reserved: state?.reserved, version: state?.version });
  }, 180_000);

  it('a running instance whose Redis comes back without its last writes applies them again before going on', async () => {
    const sku = `${run.prefix}L`;
    const line = [{ sku, quantity: 2, unitPriceMinor: 1 }];
    const oid = (n: number) => `${run.prefix}lost${n}`;
    const group = `${run.group}-running`;
    // as the restricted user, which the test can lock out for a while (a Redis that is away)
    const url = new URL(testStack().redisUrl);
    url.username = 'pipeline';
    url.password = 'pipeline-local-only';
    const proc = run.start({ INVENTORY_GROUP_ID: group, REDIS_URL: url.toString() });
    await run.producer.send('catalogue', [{ key: sku, value: product(sku) }]);
    await run.producer.send('stock', [{ key: sku, value: stock(`${run.prefix}lr1`, sku, 'RECEIVED', 10) }]);
    await waitFor('receipt', async () => (await run.store.getSku(sku))?.onHand === 10, 60_000);
    const copy = await snapshot(run.redis, run.tag);
    await run.producer.send('orders', [
      {
        key: 'L',
        value: order({ eventId: `${run.prefix}lp1`, orderId: oid(1), type: 'PLACED', lines: line }),
      },
      {
        key: 'L',
        value: order({ eventId: `${run.prefix}lp2`, orderId: oid(2), type: 'PLACED', lines: line }),
      },
    ]);
    await waitFor('holds published', async () => (await groupLag(kafka, group, run.inputs)) === 0, 60_000);
    expect((await run.store.getSku(sku))?.reserved).toBe(4);

    // Redis goes away and comes back without the last writes (a failover to a replica that had
    // not received them), while the instance keeps its partitions
    await run.redis.call('ACL', 'SETUSER', 'pipeline', 'off');
    await run.redis.call('CLIENT', 'KILL', 'USER', 'pipeline');
    await restore(run.redis, run.tag, copy);
    // the next event of the partition: applied on that state it would find no order to cancel
    await run.producer.send('orders', [
      { key: 'L', value: order({ eventId: `${run.prefix}lc1`, orderId: oid(1), type: 'CANCELLED' }) },
    ]);
    await new Promise((r) => setTimeout(r, 3_000));
    await run.redis.call('ACL', 'SETUSER', 'pipeline', 'on');
    await waitFor(
      'replayed, then applied',
      async () => (await run.store.getOrder(oid(1)))?.state === 'RELEASED',
      60_000,
    );
    expect((await run.store.getOrder(oid(2)))?.state).toBe('RESERVED');
    expect(await run.store.getSku(sku)).toMatchObject({ onHand: 10, reserved: 2 });
    expect(proc.output()).toMatch(/Redis lost writes this instance had applied/);
    proc.child.kill('SIGTERM');
    expect((await proc.exited).code).toBe(0);
  }, 120_000);

  it('refuses a partition whose log restarted below Redis position, until an operator resets it', async () => {
    const sku = `${run.prefix}R`;
    const group = `${run.group}-recreated`;
    let proc = run.start({ INVENTORY_GROUP_ID: group });
    await run.producer.send('catalogue', [{ key: sku, value: product(sku) }]);
    await run.producer.send(
      'stock',
      Array.from({ length: 8 }, (_, i) => ({
        key: 'R',
        value: stock(`${run.prefix}rr${i}`, sku, 'RECEIVED', 1),
      })),
    );
    await waitFor('receipts', async () => (await run.store.getSku(sku))?.onHand === 8, 60_000);
    proc.child.kill('SIGTERM');
    await proc.exited;

    // the topic is deleted and made again: offsets start at 0, far below Redis' position
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [`${run.prefix}stock`] });
    await waitFor(
      'topic gone',
      async () => !(await admin.listTopics()).includes(`${run.prefix}stock`),
      30_000,
    );
    await applyTopics(admin, run.prefix);
    await admin.disconnect();
    await run.producer.send('stock', [{ key: 'R', value: stock(`${run.prefix}new1`, sku, 'RECEIVED', 5) }]);

    proc = run.start({ INVENTORY_GROUP_ID: group });
    await waitFor('refused', async () => proc.output().includes('partition refused'), 60_000);
    expect(proc.output()).toMatch(/position reset --processor inventory/);
    await waitFor('alert', async () => (await run.alerts()).some((a) => a.kind === 'POSITION_AHEAD_OF_LOG'));
    expect((await run.store.getSku(sku))?.onHand).toBe(8); // nothing skipped, nothing applied
    proc.child.kill('SIGTERM');
    await proc.exited;

    const env = { TOPIC_PREFIX: run.prefix, INVENTORY_KEY_TAG: run.tag, INVENTORY_GROUP_ID: group };
    const shown = cli(['position', 'show', '--processor', 'inventory'], env);
    expect(shown.stdout).toMatch(/REFUSED/);
    // earlier tests of this file may have left positions on other partitions of the same tag,
    // refused as well: the operator resets every refused partition of the recreated topic
    const rows = JSON.parse(cli(['position', 'show', '--processor', 'inventory', '--json'], env).stdout) as {
      topic: string;
      partition: number;
      problem: string | null;
    }[];
    const refused = rows
      .filter((r) => r.topic === `${run.prefix}stock` && r.problem === 'refused')
      .map((r) => r.partition);
    expect(refused.length, shown.stdout).toBeGreaterThan(0);
    expect(shown.status).toBe(1);
    for (const partition of refused) {
      const reset = cli(
        [
          'position',
          'reset',
          '--processor',
          'inventory',
          '--topic',
          'stock',
          '--partition',
          String(partition),
          '--resume-at',
          'start',
        ],
        env,
      );
      expect(reset.status, reset.stderr).toBe(0);
    }
    proc = run.start({ INVENTORY_GROUP_ID: group });
    await waitFor('the new log applied', async () => (await run.store.getSku(sku))?.onHand === 13, 60_000);
    proc.child.kill('SIGTERM');
    await proc.exited;
  }, 180_000);
});

describe('a replay that decides an order differently publishes a correction (real Redis and Kafka)', () => {
  let redis: Redis;
  const tag = uniqueTag('correct');
  beforeAll(() => {
    redis = testRedis();
  });
  afterAll(async () => {
    await deleteTag(redis, tag);
    await redis.quit();
  });

  it('the new result names the one it replaces, with an alert; the same decision keeps its id', async () => {
    const prefix = uniquePrefix('correct');
    const codec = await provisionPrefix(prefix);
    const store = new StockStore(redis, { keyTag: tag });
    const outputs = new InventoryOutputs(codec, {
      reservationResults: `${prefix}reservation-results`,
      stockLevels: `${prefix}stock-levels`,
      alerts: `${prefix}alerts`,
      replenishment: `${prefix}replenishment`,
    });
    await outputs.init();
    const spec = inventoryProcessor({
      groupId: `${prefix}inventory`,
      topics: {
        stock: `${prefix}stock`,
        orders: `${prefix}orders`,
        stockDeadLetter: `${prefix}stock.dlq`,
        ordersDeadLetter: `${prefix}orders.dlq`,
      },
      codec,
      store,
      outputs,
      catalogue: { ensureKnown: async () => undefined },
      limits: defaultLimits,
      corrections: new ReplayCorrections(kafka, codec, `${prefix}reservation-results`),
    });
    const message = async (
      topic: 'stock' | 'orders',
      offset: number,
      value: unknown,
    ): Promise<InputMessage> => ({
      topic: `${prefix}${topic}`,
      partition: 0,
      offset,
      key: Buffer.from('k'),
      value: await codec.encode(topic, value as never),
      timestamp: Date.now(),
      headers: {},
    });
    const chunk = (m: InputMessage): InputChunk => ({
      topic: m.topic,
      partition: 0,
      messages: [m],
      upTo: m.offset,
    });
    const receipt = await message('stock', 0, stock('r1', 'A', 'RECEIVED', 5));
    const place = (id: string, oid: string, q: number, offset: number) =>
      message(
        'orders',
        offset,
        order({
          eventId: id,
          orderId: oid,
          type: 'PLACED',
          lines: [{ sku: 'A', quantity: q, unitPriceMinor: 1 }],
        }),
      );
    const producer = createProducer(kafka);
    await producer.connect();
    const publish = async (results: Awaited<ReturnType<typeof spec.handleChunks>>) => {
      for (const r of results)
        for (const o of r.outputs)
          await producer.send({
            topic: o.topic,
            messages: [{ key: o.key, value: o.value, headers: o.headers ?? {} }],
          });
    };
    try {
      await store.applyCatalogue([{ sku: 'A', version: 1, lowStockThreshold: 0, safetyStock: 0 }]);
      // first life: the receipt, then the order: reserved, published
      await publish(await spec.handleChunks([chunk(receipt)]));
      const first = await place('p1', 'o1', 5, 0);
      await publish(await spec.handleChunks([chunk(first)]));

      // Redis loses everything since the catalogue; the replay meets the order before the receipt
      await deleteTag(redis, tag);
      await store.applyCatalogue([{ sku: 'A', version: 1, lowStockThreshold: 0, safetyStock: 0 }]);
      spec.replaying?.(`${prefix}orders`, 0, 0, 0);
      const replayed = await spec.handleChunks([chunk(first)]);
      const decoded = await Promise.all(
        (replayed[0]?.outputs ?? []).map(async (o) =>
          o.topic.endsWith('alerts')
            ? await codec.decode('alerts', o.value)
            : await codec.decode('reservation-results', o.value),
        ),
      );
      const result = decoded.find((d): d is ReservationResult => 'resultId' in d);
      const alert = decoded.find((d): d is Alert => 'alertId' in d);
      expect(result).toMatchObject({ resultId: 'p1:REJECTED', outcome: 'REJECTED', corrects: 'p1:RESERVED' });
      expect(alert).toMatchObject({
        kind: 'RESULT_CORRECTED',
        subjectKey: 'o1',
        attributes: { corrects: 'p1:RESERVED' },
      });

      // a decision that comes out the same is not a correction
      await publish(replayed);
      await spec.handleChunks([chunk(receipt)]);
      const second = await place('p2', 'o2', 5, 1);
      const normal = await spec.handleChunks([chunk(second)]);
      const again = await codec.decode('reservation-results', normal[0]?.outputs[0]?.value as Buffer);
      expect(again).toMatchObject({ resultId: 'p2:RESERVED', corrects: null });
    } finally {
      await producer.disconnect();
    }
  }, 120_000);
});
