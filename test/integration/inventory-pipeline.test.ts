import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StockStore } from '../../processors/inventory/store.js';
import { DLQ_HEADERS } from '../../runtime/dead-letter.js';
import { headerString, readTopicToEnd } from '../../runtime/topic-reader.js';
import type { AvroCodec } from '../../schemas/codec.js';
import type { ReservationResult } from '../../schemas/types.js';
import { provisionPrefix, testKafka, uniquePrefix } from '../helpers/pipeline.js';
import { groupLag, killAll, spawnProcessor, waitFor } from '../helpers/processes.js';
import { order, product, stock, TestProducer } from '../helpers/produce.js';
import { deleteTag, testRedis, uniqueTag } from '../helpers/redis.js';

describe('stock processor end to end (real Kafka, registry, Redis; a real process)', () => {
  const prefix = uniquePrefix('inv');
  const tag = uniqueTag('inv');
  const group = `${prefix}inventory`;
  const kafka = testKafka('inventory-e2e');
  let codec: AvroCodec;
  let redis: Redis;
  let store: StockStore;
  let producer: TestProducer;

  beforeAll(async () => {
    codec = await provisionPrefix(prefix);
    redis = testRedis();
    store = new StockStore(redis, { keyTag: tag });
    producer = new TestProducer(kafka, codec, prefix);
    await producer.connect();
  });

  afterAll(async () => {
    await killAll();
    await producer.disconnect();
    await deleteTag(redis, tag);
    await redis.quit();
  });

  it('applies good events, dead-letters every bad one with its reason, and stops gracefully', async () => {
    await producer.send('catalogue', [
      { key: 'SKU-A', value: product('SKU-A', 2) },
      { key: 'SKU-B', value: product('SKU-B', 0, 1) },
    ]);
    await producer.send('stock', [
      { key: 'SKU-A', value: stock('s1', 'SKU-A', 'RECEIVED', 10) },
      { key: 'SKU-B', value: stock('s2', 'SKU-B', 'RECEIVED', 4) },
      { key: 'SKU-A', value: stock('s1', 'SKU-A', 'RECEIVED', 10) }, // upstream re-send
      { key: 'SKU-A', value: stock('s3', 'SKU-A', 'ADJUSTED', -1) },
      { key: 'SKU-B', value: stock('s4', 'SKU-B', 'RECEIVED', -5) }, // negative receipt
      { key: 'SKU-X', value: stock('s5', 'SKU-X', 'RECEIVED', 5) }, // unknown SKU
      { key: 'SKU-A', value: stock('s6', 'SKU-A', 'RECEIVED', 50_000_000) }, // absurd
    ]);
    const framedWithUnknownId = Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0, 2, 4]);
    await producer.sendRaw('stock', [
      { key: 'SKU-A', value: Buffer.from('not avro at all') },
      { key: 'SKU-A', value: framedWithUnknownId },
      { key: null, value: await codec.encode('stock', stock('s7', 'SKU-A', 'RECEIVED', 1)) },
    ]);
    // stock and orders are different topics: no order between them is promised, so the test
    // lets the stock settle before the orders arrive
    const proc = spawnProcessor('processors/inventory/main.ts', {
      TOPIC_PREFIX: prefix,
      INVENTORY_KEY_TAG: tag,
      INVENTORY_GROUP_ID: group,
      INVENTORY_SESSION_TIMEOUT_MS: '6000',
    });
    await waitFor(
      'stock applied',
      async () => (await groupLag(kafka, group, [`${prefix}stock`])) === 0,
      90_000,
    );
    await producer.send('orders', [
      {
        key: 'o1',
        value: order({
          eventId: 'e1',
          orderId: 'o1',
          type: 'PLACED',
          lines: [
            { sku: 'SKU-A', quantity: 3, unitPriceMinor: null },
            { sku: 'SKU-B', quantity: 3, unitPriceMinor: null },
          ],
        }),
      },
      {
        key: 'o2',
        value: order({
          eventId: 'e2',
          orderId: 'o2',
          type: 'PLACED',
          lines: [
            { sku: 'SKU-A', quantity: 2, unitPriceMinor: null },
            { sku: 'SKU-B', quantity: 9, unitPriceMinor: null },
          ],
        }),
      },
      { key: 'o1', value: order({ eventId: 'e3', orderId: 'o1', type: 'PAID', paymentId: 'p1' }) },
      { key: 'o9', value: order({ eventId: 'e4', orderId: 'o9', type: 'CANCELLED' }) }, // unknown order
      { key: 'o3', value: order({ eventId: 'e5', orderId: 'o3', type: 'PLACED', lines: [] }) }, // empty
    ]);

    const inputs = [`${prefix}stock`, `${prefix}orders`];
    await waitFor('processor to catch up', async () => (await groupLag(kafka, group, inputs)) === 0, 90_000);

    expect(await store.getSku('SKU-A')).toMatchObject({ onHand: 6, reserved: 0, available: 6 });
    // SKU-B: 4 received, safety stock 1 -> 3 reservable; o1 took 3 then was paid
    expect(await store.getSku('SKU-B')).toMatchObject({ onHand: 1, reserved: 0, available: 1 });
    expect(await store.getSku('SKU-X')).toBeNull();
    expect(await store.getOrder('o1')).toMatchObject({ state: 'COMMITTED' });
    expect(await store.getOrder('o2')).toMatchObject({ state: 'REJECTED' });

    const results: ReservationResult[] = [];
    await readTopicToEnd(kafka, `${prefix}reservation-results`, async (m) => {
      results.push(await codec.decode('reservation-results', m.value));
    });
    expect(results.map((r) => `${r.orderId}:${r.outcome}`).sort()).toEqual([
      'o1:COMMITTED',
      'o1:RESERVED',
      'o2:REJECTED',
    ]);
    // o1 and o2 sit on different partitions: o2 sees B's 3 reservable units before or after o1 took them
    const shortage = results.find((r) => r.orderId === 'o2')?.shortages;
    expect(shortage).toHaveLength(1);
    expect(shortage?.[0]).toMatchObject({ sku: 'SKU-B', requested: 9 });
    expect([0, 3]).toContain(shortage?.[0]?.available);

    const reasons: Record<string, string[]> = {};
    for (const dlq of ['stock.dlq', 'orders.dlq']) {
      await readTopicToEnd(kafka, `${prefix}${dlq}`, (m) => {
        const reason = headerString(m.headers, DLQ_HEADERS.reason) as string;
        expect(headerString(m.headers, DLQ_HEADERS.topic)).toBe(`${prefix}${dlq.replace('.dlq', '')}`);
        expect(headerString(m.headers, DLQ_HEADERS.offset)).toMatch(/^\d+$/);
        (reasons[dlq] ??= []).push(reason);
      });
    }
    expect(reasons['stock.dlq']?.sort()).toEqual(
      [
        'INVALID_QUANTITY',
        'UNKNOWN_SKU',
        'QUANTITY_TOO_LARGE',
        'NOT_CONFLUENT_FRAMED',
        'UNKNOWN_SCHEMA_ID',
        'MISSING_KEY',
      ].sort(),
    );
    expect(reasons['orders.dlq']?.sort()).toEqual(['EMPTY_ORDER', 'UNKNOWN_ORDER']);

    // graceful stop: exits 0 with everything committed
    proc.child.kill('SIGTERM');
    const exit = await proc.exited;
    expect(exit.code, proc.output()).toBe(0);
    expect(await groupLag(kafka, group, inputs)).toBe(0);
    expect(proc.output()).not.toMatch(/"level":50/);
  });
});
