import type { Redis } from 'ioredis';
import type { Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChangelogDrain } from '../../processors/inventory/changelog.js';
import { InventoryOutputs } from '../../processors/inventory/outputs.js';
import { completeSkuRecord, formatSkuRecord } from '../../processors/inventory/sku-record.js';
import { StockStore } from '../../processors/inventory/store.js';
import { createLogger } from '../../runtime/logger.js';
import { seededRandom } from '../../scripts/demo-traffic.js';
import type { AvroCodec } from '../../schemas/codec.js';
import { provisionPrefix, uniquePrefix } from '../helpers/pipeline.js';
import { receiveCommand } from '../helpers/stock-commands.js';
import { deleteTag, testRedis, uniqueTag } from '../helpers/redis.js';

/**
 * Records land in the topic in an order nobody controls: each request lands after a random delay
 * (several instances publishing at once), always before it is acknowledged, as in Kafka.
 * `during` runs while a request is on its way: a state change racing the publication.
 */
function landingProducer(
  landed: { key: string; value: Buffer }[],
  rnd: () => number,
  during: () => Promise<void> = async () => undefined,
): Producer {
  return {
    sendBatch: async ({
      topicMessages,
    }: {
      topicMessages: { messages: { key: string; value: Buffer }[] }[];
    }) => {
      await during();
      await new Promise((r) => setTimeout(r, rnd() * 10));
      landed.push(...topicMessages.flatMap((t) => t.messages));
      await new Promise((r) => setTimeout(r, rnd() * 10));
    },
  } as unknown as Producer;
}

describe('the stock-levels changelog: last record per SKU is its state (real Redis)', () => {
  let redis: Redis;
  let codec: AvroCodec;
  let prefix: string;
  const tag = uniqueTag('changelog');
  beforeAll(async () => {
    redis = testRedis();
    prefix = uniquePrefix('changelog');
    codec = await provisionPrefix(prefix);
  });
  afterAll(async () => {
    await deleteTag(redis, tag);
    await redis.quit();
  });

  it('two drainers racing state changes and reordered records end on every SKU state', async () => {
    const store = new StockStore(redis, { keyTag: tag, shards: 2 });
    const skus = ['A', 'B', 'C', 'D'];
    await store.applyCatalogue(
      skus.map((sku) => ({ sku, version: 1, lowStockThreshold: 0, safetyStock: 0 })),
    );
    const outputs = new InventoryOutputs(codec, {
      reservationResults: `${prefix}reservation-results`,
      stockLevels: `${prefix}stock-levels`,
      alerts: `${prefix}alerts`,
      replenishment: `${prefix}replenishment`,
    });
    await outputs.init();
    const rnd = seededRandom(11);
    const landed: { key: string; value: Buffer }[] = [];
    const logger = createLogger('test', 'silent');
    const drainer = () =>
      new ChangelogDrain(store, landingProducer(landed, rnd), outputs, {
        intervalMs: 1_000,
        batch: 2,
        leaseMs: 5,
        graceMs: 0,
        logger,
      });
    const [a, b] = [drainer(), drainer()];
    for (let i = 0; i < 200; i++) {
      const sku = skus[Math.floor(rnd() * skus.length)] as string;
      await Promise.all([
        store.applyBatch(
          'stock',
          0,
          [{ offset: i, command: receiveCommand(`r${i}`, sku, 1 + (i % 5)) }],
          i - 1,
        ),
        rnd() < 0.5 ? a.drainOnce() : Promise.resolve(0),
        rnd() < 0.5 ? b.drainOnce() : Promise.resolve(0),
      ]);
    }
    // quiet: whatever is still owed gets published, and the late records land
    for (let round = 0; round < 20; round++) {
      await new Promise((r) => setTimeout(r, 40));
      await Promise.all([a.drainOnce(), b.drainOnce()]);
      if ((await redis.hlen(`{${tag}.0}:dirty`)) + (await redis.hlen(`{${tag}.1}:dirty`)) === 0) break;
    }
    await new Promise((r) => setTimeout(r, 100));

    const last = new Map<string, { onHand: number; version: number }>();
    for (const r of landed) last.set(r.key, await codec.decode('stock-levels', r.value));
    for (const sku of skus) {
      const state = await store.getSku(sku);
      expect(last.get(sku), sku).toMatchObject({ onHand: state?.onHand, version: state?.version });
    }
    // far fewer records than changes: a SKU's changes between two drains are one record
    expect(landed.length).toBeLessThan(200 * 2);
  }, 60_000);

  it('a SKU that changes while its record is on the way is published again', async () => {
    const store = new StockStore(redis, { keyTag: `${tag}-race` });
    await store.applyCatalogue([{ sku: 'A', version: 1, lowStockThreshold: 0, safetyStock: 0 }]);
    const outputs = new InventoryOutputs(codec, {
      reservationResults: `${prefix}reservation-results`,
      stockLevels: `${prefix}stock-levels`,
      alerts: `${prefix}alerts`,
      replenishment: `${prefix}replenishment`,
    });
    await outputs.init();
    const landed: { key: string; value: Buffer }[] = [];
    let raced = false;
    const race = async () => {
      if (raced) return;
      raced = true;
      await store.applyBatch('stock', 0, [{ offset: 1, command: receiveCommand('r1', 'A', 5) }], 0);
    };
    const drain = new ChangelogDrain(
      store,
      landingProducer(landed, () => 0, race),
      outputs,
      {
        intervalMs: 1_000,
        batch: 10,
        leaseMs: 60_000,
        graceMs: 0,
        logger: createLogger('test', 'silent'),
      },
    );
    await store.applyBatch('stock', 0, [{ offset: 0, command: receiveCommand('r0', 'A', 3) }], -1);
    await drain.drainOnce(); // publishes on hand 3 while the receipt of 5 lands in Redis
    await drain.drainOnce();
    const records = await Promise.all(landed.map((r) => codec.decode('stock-levels', r.value)));
    expect(records.map((r) => r.onHand)).toEqual([3, 8]);
    expect(await redis.hlen(`{${tag}-race}:dirty`)).toBe(0);
    await deleteTag(redis, `${tag}-race`);
  }, 60_000);

  it('one acknowledgement of two records of a SKU: each settles its count, the one published last decides', async () => {
    for (const order of ['old-then-new', 'new-then-old'] as const) {
      const t = `${tag}-twice-${order}`;
      const store = new StockStore(redis, { keyTag: t });
      await store.applyCatalogue([{ sku: 'A', version: 1, lowStockThreshold: 0, safetyStock: 0 }]);
      const first = await store.applyBatch(
        'stock',
        0,
        [{ offset: 0, command: receiveCommand('t0', 'A', 3) }],
        -1,
      );
      const second = await store.applyBatch(
        'stock',
        0,
        [{ offset: 1, command: receiveCommand('t1', 'A', 5) }],
        0,
      );
      expect(await redis.hget(`{${t}}:dirty-pending`, 'A')).toBe('2');
      const [older, newer] = [first.levels[0], second.levels[0]];
      if (!older || !newer) throw new Error('each chunk returns the level it changed');
      await store.changelog.ackPublishedLevels(order === 'old-then-new' ? [older, newer] : [newer, older]);
      expect(await redis.hexists(`{${t}}:dirty-pending`, 'A')).toBe(0);
      // the current state landed last: done; a stale record landed last: published again
      expect(await redis.hexists(`{${t}}:dirty`, 'A'), order).toBe(order === 'old-then-new' ? 0 : 1);
      await deleteTag(redis, t);
    }
  }, 30_000);

  it('an acknowledgement reads the version of any well-formed record and refuses a corrupt one', async () => {
    const t = `${tag}-version`;
    const store = new StockStore(redis, { keyTag: t });
    await store.applyCatalogue([{ sku: 'N', version: 1, lowStockThreshold: 0, safetyStock: 0 }]);
    let offset = -1;
    const ack = async (record: (version: number) => string | Buffer) => {
      // a well-formed record to apply on, whatever the previous round left
      await redis.hset(store.shards.keysOfSku('N').sku('N'), 'N', '0:0:1:0:0:1:0');
      offset += 1;
      const applied = await store.applyBatch(
        'stock',
        0,
        [{ offset, command: receiveCommand(`v${offset}`, 'N', 1) }],
        offset - 1,
      );
      const level = applied.levels[0];
      if (!level) throw new Error('the receipt returns its level');
      await redis.hset(store.shards.keysOfSku('N').sku('N'), 'N', record(level.version));
      await store.changelog.ackPublishedLevels([level]);
      return redis.hexists(`{${t}}:dirty`, 'N');
    };
    // negative figures on either side of the version: the version is still the third field
    expect(await ack((v) => `-3:-2:${v}:0:0:1:3`)).toBe(0);
    // a newer version than the record published: it stays owed
    expect(await ack((v) => `-3:-2:${v + 1}:0:0:1:3`)).toBe(1);
    // the packed form the scripts write, short and whole; cut short, it is corrupt
    const packed = (v: number, rv = 0) => formatSkuRecord(completeSkuRecord({ on: -3, rs: 2, v, lv: 3, rv }));
    expect(await ack((v) => packed(v))).toBe(0);
    expect(await ack((v) => packed(v, 1234))).toBe(0);
    expect(await ack((v) => packed(v + 1, 1234))).toBe(1);
    await expect(ack((v) => `-3:-2:${v}:0:0:1:x`)).rejects.toThrow(/corrupt SKU record/);
    await expect(ack((v) => packed(v, 1234).subarray(0, 12))).rejects.toThrow(/corrupt SKU record/);
    await expect(ack((v) => `3:2:${v}:0:0:1`)).rejects.toThrow(/corrupt SKU record/);
    await deleteTag(redis, t);
  }, 30_000);

  it('a call changing more SKUs than one command carries marks and settles every one of them', async () => {
    const t = `${tag}-many`;
    const store = new StockStore(redis, { keyTag: t });
    const skus = Array.from({ length: 700 }, (_, i) => `M${i}`); // more than the scripts' groups of 512
    await store.applyCatalogue(
      skus.map((sku) => ({ sku, version: 1, lowStockThreshold: 0, safetyStock: 0 })),
    );
    const applied = await store.applyBatch(
      'stock',
      0,
      skus.map((sku, i) => ({ offset: i, command: receiveCommand(`m-${i}`, sku, 1) })),
      -1,
    );
    expect(applied.levels).toHaveLength(700);
    expect(await redis.hlen(`{${t}}:dirty`)).toBe(700);
    expect(await redis.hlen(`{${t}}:dirty-pending`)).toBe(700);
    await store.changelog.ackPublishedLevels(applied.levels);
    expect(await redis.hlen(`{${t}}:dirty`)).toBe(0);
    expect(await redis.hlen(`{${t}}:dirty-pending`)).toBe(0);
    await deleteTag(redis, t);
  }, 30_000);

  it('leaves a SKU to the chunk that changed it for the grace period, then takes it over', async () => {
    const store = new StockStore(redis, { keyTag: `${tag}-grace` });
    await store.applyCatalogue([{ sku: 'A', version: 1, lowStockThreshold: 0, safetyStock: 0 }]);
    await store.applyBatch('stock', 0, [{ offset: 0, command: receiveCommand('g0', 'A', 3) }], -1);
    // its chunk has not acknowledged the level yet (it is on its way, or its publisher died)
    expect((await store.changelog.claimLevels(0, 10, 60_000, '0', 60_000)).levels).toEqual([]);
    const owed = (await store.changelog.claimLevels(0, 10, 60_000, '0', 0)).levels;
    expect(owed).toMatchObject([{ sku: 'A', onHand: 3 }]);
    // the source names the event, without the time the drainer reads
    expect(owed[0]).toMatchObject({ sourceEventId: 'g0', src: 'stock:0:0' });
    await deleteTag(redis, `${tag}-grace`);
  }, 30_000);

  it('chunks publishing their own levels, some dying between landing and acknowledging, end on every SKU state', async () => {
    const t = `${tag}-chunks`;
    const store = new StockStore(redis, { keyTag: t, shards: 2 });
    // few changes per SKU: a stale record landing last after the final change is what can go wrong
    const skus = Array.from({ length: 20 }, (_, i) => `S${i}`);
    await store.applyCatalogue(
      skus.map((sku) => ({ sku, version: 1, lowStockThreshold: 0, safetyStock: 0 })),
    );
    const outputs = new InventoryOutputs(codec, {
      reservationResults: `${prefix}reservation-results`,
      stockLevels: `${prefix}stock-levels`,
      alerts: `${prefix}alerts`,
      replenishment: `${prefix}replenishment`,
    });
    await outputs.init();
    const rnd = seededRandom(23);
    const landed: { key: string; value: Buffer }[] = [];
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const graceMs = 150;
    const drain = new ChangelogDrain(store, landingProducer(landed, rnd), outputs, {
      intervalMs: 1_000,
      batch: 10,
      leaseMs: 5_000,
      graceMs,
      logger: createLogger('test', 'silent'),
    });
    // each chunk: one change on its own partition, its level record lands after a random delay
    // (a slow one long after younger chunks'), then it acknowledges, or dies first
    let died = 0;
    const chunk = async (i: number): Promise<void> => {
      const sku = skus[Math.floor(rnd() * skus.length)] as string;
      const res = await store.applyBatch(
        'stock',
        i,
        [{ offset: 0, command: receiveCommand(`c${i}`, sku, 1) }],
        -1,
      );
      const delay = rnd() < 0.2 ? 30 + rnd() * 40 : rnd() * 5;
      await sleep(delay);
      landed.push(...res.levels.map((l) => outputs.level(l, Date.now())));
      if (rnd() < 0.25) {
        died++;
        return;
      }
      await store.changelog.ackPublishedLevels(res.levels);
    };
    const running: Promise<void>[] = [];
    for (let i = 0; i < 150; i++) {
      running.push(chunk(i));
      if (rnd() < 0.1) running.push(drain.drainOnce().then(() => undefined));
      await sleep(rnd() * 3);
    }
    await Promise.all(running);
    // the drain takes over what the dead left owed once their changes are older than the grace
    for (let round = 0; round < 20; round++) {
      await sleep(graceMs);
      await drain.drainOnce();
      if ((await redis.hlen(`{${t}.0}:dirty`)) + (await redis.hlen(`{${t}.1}:dirty`)) === 0) break;
    }
    expect(died).toBeGreaterThan(10);
    const last = new Map<string, { onHand: number; version: number }>();
    for (const r of landed) last.set(r.key, await codec.decode('stock-levels', r.value));
    for (const sku of skus) {
      const state = await store.getSku(sku);
      expect(last.get(sku), sku).toMatchObject({ onHand: state?.onHand, version: state?.version });
    }
    for (const shard of [0, 1]) {
      expect(await redis.hlen(`{${t}.${shard}}:dirty-pending`)).toBe(0);
      expect(await redis.hlen(`{${t}.${shard}}:dirty`)).toBe(0);
    }
    await deleteTag(redis, t);
  }, 60_000);
});
