import type { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { rebuild, reconcile } from '../../processors/inventory/ops.js';
import type { SkuState } from '../../processors/inventory/store.js';
import type { ReservationResult } from '../../schemas/types.js';
import { seededRandom } from '../../scripts/demo-traffic.js';
import { inventoryRun, type InventoryRun } from '../helpers/inventory-run.js';
import { testKafka } from '../helpers/pipeline.js';
import { groupLag, killAll, waitFor } from '../helpers/processes.js';
import { order, product, stock } from '../helpers/produce.js';
import { deleteTag } from '../helpers/redis.js';

const kafka = testKafka('inventory-faults');
const runs: InventoryRun[] = [];
const setup = async (name: string) => {
  const run = await inventoryRun(kafka, name);
  runs.push(run);
  return run;
};

afterEach(async () => {
  await killAll();
});
afterAll(async () => {
  for (const r of runs) await r.close();
});

describe('stock processor under contention, rebalances and crashes', () => {
  it('two instances and a rebalance: a hot SKU in two warehouses sells exactly what each received, never more', async () => {
    const s = await setup('hot');
    await s.producer.send('catalogue', [{ key: 'HOT', value: product('HOT', 10) }]);
    await s.producer.send('stock', [
      { key: 'HOT', value: { ...stock('r-hot-a', 'HOT', 'RECEIVED', 60), warehouseId: 'WH-A' } },
      { key: 'HOT', value: { ...stock('r-hot-b', 'HOT', 'RECEIVED', 40), warehouseId: 'WH-B' } },
    ]);
    const a = s.start({ INVENTORY_MAX_CHUNK: '20' });
    await s.caughtUp([`${s.prefix}stock`]);

    const orders = Array.from({ length: 2000 }, (_, i) => `hot-${i}`);
    const placing = s.producer.send(
      'orders',
      orders.map((id) => ({
        key: id,
        value: order({
          eventId: `${id}-placed`,
          orderId: id,
          type: 'PLACED',
          lines: [{ sku: 'HOT', quantity: 1, unitPriceMinor: null }],
        }),
      })),
    );
    // a second instance joins mid-stream: the group rebalances while orders are being applied
    await waitFor('first reservations', async () => ((await s.store.getSku('HOT'))?.reserved ?? 0) > 0);
    const b = s.start({ INVENTORY_MAX_CHUNK: '20' });
    await placing;
    await s.caughtUp();

    // everyone who got a unit pays; a paid order is shipped too (a no-op for stock)
    const results = await s.results();
    const reserved = [...results]
      .filter(([, rs]) => rs.some((r) => r.outcome === 'RESERVED'))
      .map(([id]) => id);
    expect(reserved).toHaveLength(100);
    expect([...results.values()].every((rs) => rs.length === 1)).toBe(true);
    expect(results.size).toBe(2000);
    // per warehouse, exactly what it received was promised: each unit held in one place
    const heldIn = (outcome: string, rs: Map<string, ReservationResult[]>) => {
      const by: Record<string, number> = {};
      for (const r of [...rs.values()].flat().filter((x) => x.outcome === outcome)) {
        for (const h of r.allocations ?? []) by[h.warehouseId] = (by[h.warehouseId] ?? 0) + h.quantity;
      }
      return by;
    };
    expect(heldIn('RESERVED', results)).toEqual({ 'WH-A': 60, 'WH-B': 40 });
    expect((await s.store.getSku('HOT'))?.warehouses).toEqual([
      { warehouseId: 'WH-A', onHand: 60, reserved: 60, available: 0 },
      { warehouseId: 'WH-B', onHand: 40, reserved: 40, available: 0 },
    ]);
    await s.producer.send(
      'orders',
      reserved.flatMap((id) => [
        { key: id, value: order({ eventId: `${id}-paid`, orderId: id, type: 'PAID', paymentId: id }) },
        { key: id, value: order({ eventId: `${id}-shipped`, orderId: id, type: 'SHIPPED' }) },
      ]),
    );
    await s.caughtUp();
    const hot = await s.store.getSku('HOT');
    expect(hot).toMatchObject({ onHand: 0, reserved: 0, available: 0 });
    const after = await s.results();
    const sold = [...after.values()].flat().filter((r) => r.outcome === 'COMMITTED');
    expect(sold.reduce((n, r) => n + (r.lines[0]?.quantity ?? 0), 0)).toBe(100);
    expect(heldIn('COMMITTED', after)).toEqual({ 'WH-A': 60, 'WH-B': 40 });
    expect((await s.store.getSku('HOT'))?.warehouses).toEqual([
      { warehouseId: 'WH-A', onHand: 0, reserved: 0, available: 0 },
      { warehouseId: 'WH-B', onHand: 0, reserved: 0, available: 0 },
    ]);
    expect(await reconcile(s.ops())).toEqual([]);
    a.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
    await Promise.all([a.exited, b.exited]);
  }, 300_000);

  it('SIGKILL mid-stream, repeatedly: final state equals the model, nothing lost or applied twice; rebuild from Kafka reconciles', async () => {
    const s = await setup('crash');
    const rnd = seededRandom(20261125);
    const skus = Array.from({ length: 20 }, (_, i) => `SKU-${i}`);
    const received = new Map<string, number>();
    await s.producer.send(
      'catalogue',
      skus.map((sku) => ({ key: sku, value: product(sku, 5) })),
    );
    const receipts = skus.map((sku, i) => {
      const q = 150 + Math.floor(rnd() * 100);
      received.set(sku, q);
      return { key: sku, value: stock(`open-${i}`, sku, 'RECEIVED', q) };
    });
    await s.producer.send('stock', [...receipts, ...receipts.slice(0, 5)]); // five re-sent receipts

    // 6,000 orders (about 2 lines each): demand outruns supply, so reservations contend
    const follow = new Map<string, 'PAID' | 'CANCELLED' | null>();
    const orderMessages = [];
    for (let i = 0; i < 6000; i++) {
      const id = `ord-${i}`;
      const count = 1 + Math.floor(rnd() * 3);
      const chosen = new Set<string>();
      while (chosen.size < count) chosen.add(skus[Math.floor(rnd() * skus.length)] as string);
      const placed = order({
        eventId: `${id}-placed`,
        orderId: id,
        type: 'PLACED',
        lines: [...chosen].map((sku) => ({ sku, quantity: 1 + Math.floor(rnd() * 3), unitPriceMinor: null })),
      });
      orderMessages.push({ key: id, value: placed });
      if (rnd() < 0.05) orderMessages.push({ key: id, value: placed }); // upstream re-send
      const r = rnd();
      const next = r < 0.45 ? 'PAID' : r < 0.65 ? 'CANCELLED' : null;
      follow.set(id, next);
      if (next)
        orderMessages.push({ key: id, value: order({ eventId: `${id}-${next}`, orderId: id, type: next }) });
    }
    let proc = s.start({ INVENTORY_MAX_CHUNK: '10', INVENTORY_PARTITIONS_CONCURRENTLY: '6' });
    await s.caughtUp([`${s.prefix}stock`]);
    await s.producer.send('orders', orderMessages);

    let kills = 0;
    const progress = async () => {
      let sum = 0;
      for (let p = 0; p < 6; p++) sum += (await s.store.watermark(`${s.prefix}orders`, p)) + 1;
      return sum;
    };
    // kills at fixed shares of the work, not at fixed times: a faster processor is killed as often
    for (const share of [0.15, 0.35, 0.55, 0.75]) {
      const at = Math.floor(orderMessages.length * share + rnd() * orderMessages.length * 0.05);
      await waitFor('progress', async () => (await progress()) >= at, 60_000);
      if ((await groupLag(kafka, s.group, s.inputs)) === 0) break;
      proc.child.kill('SIGKILL');
      await proc.exited;
      kills += 1;
      proc = s.start({ INVENTORY_MAX_CHUNK: '10', INVENTORY_PARTITIONS_CONCURRENTLY: '6' });
    }
    expect(kills).toBeGreaterThanOrEqual(3);
    await s.caughtUp();
    proc.child.kill('SIGTERM');
    expect((await proc.exited).code).toBe(0);

    // the model, with the processor's decisions (reserve or reject) as the witness
    const results = await s.results();
    expect(results.size).toBe(6000); // every order got its decision: none lost
    const expectedOn = new Map(received);
    const expectedRs = new Map<string, number>();
    const taken = new Map<string, number>();
    for (const [id, rs] of results) {
      const decisions = rs.filter((r) => r.outcome === 'RESERVED' || r.outcome === 'REJECTED');
      expect(decisions, id).toHaveLength(1);
      const decision = decisions[0] as ReservationResult;
      const next = follow.get(id);
      const outcomes = rs.map((r) => r.outcome).sort();
      if (decision.outcome === 'REJECTED') expect(outcomes).toEqual(['REJECTED']);
      else if (next === 'PAID') expect(outcomes).toEqual(['COMMITTED', 'RESERVED']);
      else if (next === 'CANCELLED') expect(outcomes).toEqual(['RELEASED', 'RESERVED']);
      else expect(outcomes).toEqual(['RESERVED']);
      if (decision.outcome !== 'RESERVED') continue;
      for (const l of decision.lines) {
        if (next !== 'CANCELLED') taken.set(l.sku, (taken.get(l.sku) ?? 0) + l.quantity);
        if (next === 'PAID') expectedOn.set(l.sku, (expectedOn.get(l.sku) ?? 0) - l.quantity);
        if (next === null) expectedRs.set(l.sku, (expectedRs.get(l.sku) ?? 0) + l.quantity);
      }
    }
    const before = new Map<string, SkuState | null>();
    for (const sku of skus) {
      const state = await s.store.getSku(sku);
      before.set(sku, state);
      expect(state, sku).toMatchObject({ onHand: expectedOn.get(sku), reserved: expectedRs.get(sku) ?? 0 });
      expect(taken.get(sku) ?? 0, `${sku} oversold`).toBeLessThanOrEqual(received.get(sku) as number);
      expect(state?.available ?? -1).toBeGreaterThanOrEqual(0);
    }
    expect(await reconcile(s.ops())).toEqual([]);

    // wipe Redis, rebuild from Kafka, and nothing differs
    await deleteTag(s.store.redis as Redis, s.tag);
    const report = await rebuild(s.ops());
    expect(report.skus).toBe(20);
    for (const sku of skus) {
      const { version: _v, ...rest } = (await s.store.getSku(sku)) as SkuState;
      const { version: _w, ...expected } = before.get(sku) as SkuState;
      expect(rest).toEqual(expected);
    }
    expect(await reconcile(s.ops())).toEqual([]);

    // the rebuilt watermarks hold: a restarted processor applies nothing twice and carries on
    const again = s.start();
    await s.producer.send('stock', [{ key: 'SKU-0', value: stock('late-1', 'SKU-0', 'RECEIVED', 7) }]);
    await s.caughtUp();
    expect((await s.store.getSku('SKU-0'))?.onHand).toBe((expectedOn.get('SKU-0') as number) + 7);
    again.child.kill('SIGTERM');
    await again.exited;
    await deleteTag(s.store.redis as Redis, s.tag);
  }, 600_000);
});
