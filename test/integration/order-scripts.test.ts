import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OrderStore, type OrderInput } from '../../processors/orders/store.js';
import {
  decide,
  ORDER_CAUSES,
  ORDER_STATES,
  type OrderCause,
  type OrderState,
} from '../../processors/orders/transitions.js';
import { deleteTag, testRedis, uniqueTag } from '../helpers/redis.js';

/** The causes that take a new order to each state. */
const PATH: Record<OrderState | 'NONE', OrderCause[]> = {
  NONE: [],
  PLACED: ['PLACED'],
  RESERVED: ['PLACED', 'RESERVED'],
  REJECTED: ['PLACED', 'REJECTED'],
  PAID: ['PLACED', 'RESERVED', 'PAID'],
  SHIPPED: ['PLACED', 'RESERVED', 'PAID', 'SHIPPED'],
  DELIVERED: ['PLACED', 'RESERVED', 'PAID', 'SHIPPED', 'DELIVERED'],
  CANCELLED: ['PLACED', 'CANCELLED'],
  EXPIRED: ['PLACED', 'RESERVED', 'EXPIRED'],
};

const DEADLINE_MS = 60_000;

describe('apply-order-events.lua: the order state machine in Redis', () => {
  let redis: Redis;
  let store: OrderStore;
  let tag: string;
  beforeAll(() => {
    redis = testRedis();
  });
  beforeEach(async () => {
    if (tag) await deleteTag(redis, tag);
    tag = uniqueTag('orders');
    store = new OrderStore(redis, {
      keyTag: tag,
      paymentDeadlineMs: DEADLINE_MS,
      finalOrderTtlSeconds: 3600,
    });
  });
  afterAll(async () => {
    await deleteTag(redis, tag);
    await redis.quit();
  });

  const ev = (orderId: string, cause: OrderCause, n: number | string): OrderInput => ({
    eventId: `${orderId}-${cause}-${n}`,
    orderId,
    cause,
    occurredAt: 1_000,
  });

  it('every state x every cause: applied, ignored, deferred or refused exactly as the table says', async () => {
    const states = ['NONE', ...ORDER_STATES] as const;
    let cells = 0;
    for (const state of states) {
      for (const cause of ORDER_CAUSES) {
        const orderId = `o-${state}-${cause}`;
        const setup = await store.apply(PATH[state].map((c, i) => ev(orderId, c, i)));
        expect(setup.every((o) => o.status === 'ok')).toBe(true);
        const before = (await store.get(orderId))?.state ?? null;
        expect(before).toBe(state === 'NONE' ? null : state);

        const [outcome] = await store.apply([ev(orderId, cause, 'x')]);
        const after = (await store.get(orderId))?.state ?? null;
        const expected = decide(state === 'NONE' ? null : state, cause);
        const where = `${state} + ${cause}`;
        switch (expected.kind) {
          case 'move':
            expect(outcome?.status, where).toBe('ok');
            expect(
              outcome?.transitions.map((t) => t.to),
              where,
            ).toEqual(expected.to);
            expect(outcome?.transitions[0]?.from ?? null, where).toBe(before);
            expect(after, where).toBe(expected.to.at(-1));
            expect(
              outcome?.alerts.map((a) => a.kind),
              where,
            ).toEqual(expected.alert ? [expected.alert] : []);
            break;
          case 'flag':
            // an anomaly: recorded and raised, the state stays, nothing dead-lettered
            expect(outcome?.status, where).toBe('flag');
            expect(outcome?.alerts, where).toEqual([{ kind: expected.alert, src: `${orderId}-${cause}-x` }]);
            expect(outcome?.transitions, where).toEqual([]);
            expect(after, where).toBe(before);
            break;
          case 'noop':
            expect(outcome?.status, where).toBe('noop');
            expect(after, where).toBe(before);
            break;
          case 'defer':
            expect(outcome?.status, where).toBe('defer');
            expect(after, where).toBe(before);
            break;
          case 'illegal':
            expect(outcome?.status, where).toBe('dlq');
            expect(outcome?.why, where).toBe(expected.reason);
            expect(after, where).toBe(before);
            break;
        }
        cells += 1;
      }
    }
    expect(cells).toBe(9 * 10);
  });

  it('a redelivered event changes nothing and returns the transitions it made, for re-publishing', async () => {
    const first = await store.apply([ev('o1', 'PLACED', 1), ev('o1', 'RESERVED', 1)]);
    const again = await store.apply([ev('o1', 'PLACED', 1), ev('o1', 'RESERVED', 1)]);
    expect(again.map((o) => o.status)).toEqual(['dup', 'dup']);
    expect(again.map((o) => o.transitions)).toEqual(first.map((o) => o.transitions));
    expect((await store.get('o1'))?.history.map((t) => t.to)).toEqual(['PLACED', 'RESERVED']);
    expect((await store.get('o1'))?.history.map((t) => t.n)).toEqual([1, 2]);
  });

  it('an event that came before its order: the same message replays its dead letter, another one is decided on the order', async () => {
    const from = (input: OrderInput, source: string): OrderInput => ({ ...input, source });
    const paid = ev('o9', 'PAID', 1);
    const [early] = await store.apply([from(paid, 'orders:0:10')]);
    expect(early).toMatchObject({ status: 'dlq', why: 'ORDER_UNKNOWN' });
    await store.apply([from(ev('o9', 'PLACED', 1), 'orders:0:11'), from(ev('o9', 'RESERVED', 1), 'rr:0:5')]);
    // a redelivery of the message that was dead-lettered: the same outcome, nothing applied
    const [redelivered] = await store.apply([from(paid, 'orders:0:10')]);
    expect(redelivered).toMatchObject({ status: 'dup', first: 'dlq', why: 'ORDER_UNKNOWN' });
    expect((await store.get('o9'))?.state).toBe('RESERVED');
    // the same event in another message (re-sent upstream, or redriven): the order exists now
    const [resent] = await store.apply([from(paid, 'orders:0:40')]);
    expect(resent).toMatchObject({ status: 'ok' });
    expect(resent?.transitions.map((t) => t.to)).toEqual(['PAID']);
    expect((await store.get('o9'))?.state).toBe('PAID');
    // from then on it is an applied event like any other
    const [third] = await store.apply([from(paid, 'orders:0:41')]);
    expect(third).toMatchObject({ status: 'dup', first: 'ok' });
    // without a known message (callers that do not say) the stored outcome stands, as before
    const [unsourced] = await store.apply([ev('o8', 'SHIPPED', 1)]);
    expect(unsourced).toMatchObject({ status: 'dlq' });
    await store.apply([ev('o8', 'PLACED', 1)]);
    expect((await store.apply([ev('o8', 'SHIPPED', 1)]))[0]).toMatchObject({ status: 'dup', first: 'dlq' });
  });

  it('a payment that overtakes its reservation waits for it; one for a rejected order raises an alert', async () => {
    const [, paid, reserved] = await store.apply([
      ev('o2', 'PLACED', 1),
      ev('o2', 'PAID', 1),
      ev('o2', 'RESERVED', 1),
    ]);
    expect(paid?.status).toBe('defer');
    expect(reserved?.transitions.map((t) => [t.to, t.cause, t.src])).toEqual([
      ['RESERVED', 'RESERVED', 'o2-RESERVED-1'],
      ['PAID', 'PAID', 'o2-PAID-1'],
    ]);
    expect(await redis.zscore(store.deadlinesKey, 'o2')).toBeNull();

    const [, , rejected] = await store.apply([
      ev('o3', 'PLACED', 1),
      ev('o3', 'PAID', 1),
      ev('o3', 'REJECTED', 1),
    ]);
    expect(rejected?.transitions.map((t) => t.to)).toEqual(['REJECTED']);
    expect(rejected?.alerts.map((a) => a.kind)).toEqual(['PAID_REJECTED']);
  });

  it('shipment and delivery behind a waiting payment wait too, and replay in order once reserved', async () => {
    const outcomes = await store.apply([
      ev('o8', 'PLACED', 1),
      ev('o8', 'PAID', 1),
      ev('o8', 'SHIPPED', 1),
      ev('o8', 'DELIVERED', 1),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['ok', 'defer', 'defer', 'defer']);
    expect((await store.get('o8'))?.waiting.map((w) => w.c)).toEqual(['PAID', 'SHIPPED', 'DELIVERED']);
    const [reserved] = await store.apply([ev('o8', 'RESERVED', 1)]);
    expect(reserved?.transitions.map((t) => t.to)).toEqual(['RESERVED', 'PAID', 'SHIPPED', 'DELIVERED']);
    expect((await store.get('o8'))?.waiting).toEqual([]);
    // a shipment before the reservation waits too; reserved and never paid, it ships with an alert
    const [, shipped] = await store.apply([ev('o9', 'PLACED', 1), ev('o9', 'SHIPPED', 1)]);
    expect(shipped?.status).toBe('defer');
    const [decided] = await store.apply([ev('o9', 'RESERVED', 1)]);
    expect(decided?.transitions.map((t) => t.to)).toEqual(['RESERVED', 'SHIPPED']);
    expect(decided?.alerts).toEqual([{ kind: 'SHIPPED_UNPAID', src: 'o9-SHIPPED-1' }]);
    // a cancellation behind a waiting payment waits too: paid, then cancelled (a refund, no anomaly)
    const [, , cancelled] = await store.apply([
      ev('o10', 'PLACED', 1),
      ev('o10', 'PAID', 1),
      ev('o10', 'CANCELLED', 1),
    ]);
    expect(cancelled?.status).toBe('defer');
    const [afterReserved] = await store.apply([ev('o10', 'RESERVED', 1)]);
    expect(afterReserved?.transitions.map((t) => t.to)).toEqual(['RESERVED', 'PAID', 'CANCELLED']);
    expect(afterReserved?.alerts).toEqual([]);
    // rejected instead: the payment is the anomaly (refund), the cancellation changes nothing
    await store.apply([ev('o11', 'PLACED', 1), ev('o11', 'PAID', 1), ev('o11', 'CANCELLED', 1)]);
    const [afterRejected] = await store.apply([ev('o11', 'REJECTED', 1)]);
    expect(afterRejected?.transitions.map((t) => t.to)).toEqual(['REJECTED']);
    expect(afterRejected?.alerts).toEqual([{ kind: 'PAID_REJECTED', src: 'o11-PAID-1' }]);
  });

  it('a correction that grants a rejected order its reservation replays what happened meanwhile', async () => {
    // rejected, then paid, shipped and delivered anyway (flagged); Redis lost writes and the
    // stock, decided again, reserves it: the order ends delivered, where the goods are
    await store.apply([ev('o12', 'PLACED', 1), ev('o12', 'REJECTED', 1)]);
    const flagged = await store.apply([
      ev('o12', 'PAID', 1),
      ev('o12', 'SHIPPED', 1),
      ev('o12', 'DELIVERED', 1),
    ]);
    expect(flagged.map((o) => o.status)).toEqual(['flag', 'flag', 'flag']);
    expect((await store.get('o12'))?.state).toBe('REJECTED');
    const [corrected] = await store.apply([ev('o12', 'RESERVED_CORRECTION', 1)]);
    expect(corrected?.transitions.map((t) => [t.to, t.src])).toEqual([
      ['RESERVED', 'o12-RESERVED_CORRECTION-1'],
      ['PAID', 'o12-PAID-1'],
      ['SHIPPED', 'o12-SHIPPED-1'],
      ['DELIVERED', 'o12-DELIVERED-1'],
    ]);
    expect(corrected?.alerts.map((a) => a.kind)).toEqual(['RESERVED_AFTER_REJECTION']);
    expect((await store.get('o12'))?.waiting).toEqual([]);
    // a payment that waited for the decision, rejected, then corrected: paid after all; a
    // cancellation while rejected cancels it once reserved
    await store.apply([ev('o13', 'PLACED', 1), ev('o13', 'PAID', 1), ev('o13', 'REJECTED', 1)]);
    await store.apply([ev('o13', 'CANCELLED', 1)]);
    const [later] = await store.apply([ev('o13', 'RESERVED_CORRECTION', 1)]);
    expect(later?.transitions.map((t) => t.to)).toEqual(['RESERVED', 'PAID', 'CANCELLED']);
    // a correction that confirms the rejection changes nothing
    await store.apply([ev('o14', 'PLACED', 1), ev('o14', 'REJECTED', 1), ev('o14', 'PAID', 1)]);
    const [same] = await store.apply([ev('o14', 'REJECTED_CORRECTION', 1)]);
    expect(same?.status).toBe('noop');
    expect((await store.get('o14'))?.state).toBe('REJECTED');
  });

  it('reservation sets a payment deadline that leaving RESERVED clears; due deadlines are claimed under a lease', async () => {
    const now = Date.now();
    await store.apply([ev('o4', 'PLACED', 1), ev('o4', 'RESERVED', 1)], now);
    await store.apply([ev('o5', 'PLACED', 1), ev('o5', 'RESERVED', 1), ev('o5', 'PAID', 1)], now);
    expect((await store.get('o4'))?.paymentDeadline).toBe(now + DEADLINE_MS);
    expect(await store.claimDueExpiries(now + DEADLINE_MS - 1, 10, 5_000)).toEqual([]);
    expect(await store.claimDueExpiries(now + DEADLINE_MS, 10, 5_000)).toEqual([
      { orderId: 'o4', due: now + DEADLINE_MS },
    ]);
    // leased: a second sweeper does not get it until the lease runs out
    expect(await store.claimDueExpiries(now + DEADLINE_MS + 1, 10, 5_000)).toEqual([]);
    expect(await store.claimDueExpiries(now + DEADLINE_MS + 5_000, 10, 5_000)).toHaveLength(1);
    await store.apply([ev('o4', 'EXPIRED', 1)], now + DEADLINE_MS);
    expect(await redis.zcard(store.deadlinesKey)).toBe(0);
  });

  it('final orders expire from Redis after the retention TTL; live ones do not', async () => {
    await store.apply([ev('o6', 'PLACED', 1), ev('o6', 'CANCELLED', 1), ev('o7', 'PLACED', 1)]);
    expect(await redis.ttl(`{${tag}}:o:o6`)).toBeGreaterThan(0);
    expect(await redis.ttl(`{${tag}}:h:o6`)).toBeGreaterThan(0);
    expect(await redis.ttl(`{${tag}}:o:o7`)).toBe(-1);
  });
});
