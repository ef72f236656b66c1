import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ShipmentStore, type ShipmentOutput } from '../../processors/logistics/store.js';
import type { CarrierEvent, CarrierEventType } from '../../schemas/types.js';
import { deleteTag, testRedis, uniqueTag } from '../helpers/redis.js';

const HOUR = 3_600_000;

function scan(
  trk: string,
  n: number,
  type: CarrierEventType,
  at: number,
  orderId: string | null = 'ord-1',
): CarrierEvent {
  return {
    eventId: `${trk}-${n}`,
    trackingNumber: trk,
    carrier: 'DHL',
    orderId,
    type,
    occurredAt: at,
    location: `hub-${n}`,
    promisedDeliveryAt: null,
    detail: type === 'EXCEPTION' ? 'address not found' : null,
  };
}

/** What survives of a shipment's outputs once consumers de-duplicate: its final state matters. */
const summary = async (store: ShipmentStore, trk: string) => {
  const s = await store.get(trk);
  return {
    status: s?.status,
    alerts: [...(s?.alerts ?? [])].sort(),
    timeline: s?.timeline.map((t) => t.id).sort(),
  };
};

describe('apply-carrier-events.lua: shipments folded from carrier events', () => {
  let redis: Redis;
  const tags: string[] = [];
  const newStore = (silenceMs = 10 * HOUR) => {
    const tag = uniqueTag('shp');
    tags.push(tag);
    return new ShipmentStore(redis, { keyTag: tag, silenceMs, finalTtlSeconds: 3600 });
  };
  beforeAll(() => {
    redis = testRedis();
  });
  afterAll(async () => {
    for (const tag of tags) await deleteTag(redis, tag);
    await redis.quit();
  });

  it('shuffled and duplicated carrier events give the same shipment as in order, and the order events once each', async () => {
    const happy: CarrierEventType[] = [
      'LABEL_CREATED',
      'PICKED_UP',
      'IN_TRANSIT',
      'EXCEPTION',
      'IN_TRANSIT',
      'OUT_FOR_DELIVERY',
      'DELIVERED',
    ];
    const lost: CarrierEventType[] = ['LABEL_CREATED', 'PICKED_UP', 'IN_TRANSIT', 'LOST'];
    const returned: CarrierEventType[] = ['LABEL_CREATED', 'PICKED_UP', 'DELIVERED', 'RETURNED'];
    const journeys = fc.constantFrom(happy, lost, returned, happy.slice(0, 4), [
      'LABEL_CREATED',
    ] as CarrierEventType[]);
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        journeys,
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.integer({ min: 1, max: 5 }),
        async (types, seed, batchSize) => {
          run += 1;
          const trk = `T${run}`;
          const events = types.map((t, i) => scan(trk, i, t, 1_000_000 + i * HOUR));
          const inOrder = newStore();
          await inOrder.apply(events);

          // shuffle with duplicates, applied in batches of varying size
          const rnd = fc.sample(
            fc.shuffledSubarray([...events, ...events.slice(0, 2)], {
              minLength: events.length + Math.min(2, events.length),
            }),
            { seed, numRuns: 1 },
          )[0] as CarrierEvent[];
          const withAll = [...rnd, ...events.filter((e) => !rnd.includes(e))];
          const shuffled = newStore();
          const outputs: ShipmentOutput[] = [];
          for (let i = 0; i < withAll.length; i += batchSize) {
            for (const o of await shuffled.apply(withAll.slice(i, i + batchSize))) {
              if (o.status === 'ok') outputs.push(...o.outputs);
            }
          }
          expect(await summary(shuffled, trk)).toEqual(await summary(inOrder, trk));
          const orderEvents = outputs
            .filter((o) => o.k === 'order')
            .map((o) => (o.k === 'order' ? o.ty : ''));
          const moved = types.some((t) =>
            ['PICKED_UP', 'IN_TRANSIT', 'OUT_FOR_DELIVERY', 'DELIVERED'].includes(t),
          );
          const expected = [
            ...(moved ? ['SHIPPED'] : []),
            ...(types.includes('DELIVERED') ? ['DELIVERED'] : []),
          ];
          expect(orderEvents).toEqual(expected);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('never goes back from delivered to in transit; a redelivered event returns its stored outputs', async () => {
    const store = newStore();
    const [d] = await store.apply([scan('T-late', 5, 'DELIVERED', 5 * HOUR)]);
    expect(d?.outputs.map((o) => o.k)).toEqual(['status', 'order', 'order']);
    const [late] = await store.apply([scan('T-late', 4, 'IN_TRANSIT', 4 * HOUR)]);
    expect(late?.outputs).toEqual([]);
    expect((await store.get('T-late'))?.status).toBe('DELIVERED');
    const [again] = await store.apply([scan('T-late', 5, 'DELIVERED', 5 * HOUR)]);
    expect(again?.status).toBe('dup');
    expect(again?.outputs).toEqual(d?.outputs);
    expect((await store.get('T-late'))?.timeline.map((t) => t.ty)).toEqual(['IN_TRANSIT', 'DELIVERED']);
  });

  it('an exception or a lost parcel alerts once; delivery after an alert clears it', async () => {
    const store = newStore();
    const outs = (
      await store.apply([
        scan('T-x', 1, 'PICKED_UP', HOUR),
        scan('T-x', 2, 'EXCEPTION', 2 * HOUR),
        scan('T-x', 3, 'EXCEPTION', 3 * HOUR),
        scan('T-x', 4, 'DELIVERED', 4 * HOUR),
      ])
    ).flatMap((o) => o.outputs.filter((x) => x.k === 'alert'));
    expect(outs).toEqual([
      { k: 'alert', kind: 'EXCEPTION' },
      { k: 'alert', kind: 'DELIVERED' },
    ]);
  });

  it('past the promised time or silent too long: claimed under a lease, alerted once after the ack', async () => {
    const store = newStore(60_000);
    const now = 10 * HOUR;
    await store.apply([{ ...scan('T-d', 1, 'PICKED_UP', now - HOUR), promisedDeliveryAt: now + 1_000 }], now);
    expect(await store.claimDue(now, 10, 5_000)).toEqual([]);
    expect(await store.claimDue(now + 1_000, 10, 5_000)).toEqual([
      { kind: 'DELAYED', trackingNumber: 'T-d' },
    ]);
    expect(await store.claimDue(now + 2_000, 10, 5_000)).toEqual([]); // leased
    await store.ackAlert('DELAYED', 'T-d');
    expect(await store.claimDue(now + 60_000, 10, 5_000)).toEqual([
      { kind: 'SILENT', trackingNumber: 'T-d' },
    ]);
    await store.ackAlert('SILENT', 'T-d');
    // new scans neither re-arm an alert already raised
    await store.apply([scan('T-d', 2, 'IN_TRANSIT', now)], now + 61_000);
    expect(await store.claimDue(now + 10 * HOUR, 10, 5_000)).toEqual([]);
    expect((await store.get('T-d'))?.alerts.sort()).toEqual(['DELAYED', 'SILENT']);
  });
});
