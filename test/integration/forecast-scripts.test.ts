import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { StockCommand } from '../../processors/inventory/commands.js';
import { DEFAULT_FORECAST, type ForecastSettings } from '../../processors/inventory/forecast.js';
import type { ScriptOutput } from '../../processors/inventory/script-results.js';
import { PACKED_RECORD_MARK, parseSkuRecord } from '../../processors/inventory/sku-record.js';
import { StockStore } from '../../processors/inventory/store.js';
import { deleteTag, testRedis, uniqueTag } from '../helpers/redis.js';

// Velocity, predicted stock-outs and replenishment suggestions, computed by the stock scripts
// in a real Redis from event times. Expectations come from the inputs: the true stock-out time
// of a steady seller is its stock divided by its rate.

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 5, 1);

type Emitted = { at: number; output: ScriptOutput };

describe('forecasting in the stock scripts (real Redis)', () => {
  let redis: Redis;
  let store: StockStore;
  let tag: string;
  const offsets = new Map<string, number>();
  beforeAll(() => {
    redis = testRedis();
  });
  afterEach(async () => {
    await deleteTag(redis, tag);
  });
  afterAll(async () => {
    await redis.quit();
  });

  async function fresh(
    catalogue: { sku: string; leadTimeHours: number; safetyStock?: number }[],
    forecast?: Partial<ForecastSettings>,
  ): Promise<void> {
    tag = uniqueTag('forecast');
    offsets.clear();
    store = new StockStore(redis, { keyTag: tag, forecast: { ...DEFAULT_FORECAST, ...forecast } });
    await store.applyCatalogue(
      catalogue.map((c) => ({
        sku: c.sku,
        version: 1,
        lowStockThreshold: 0,
        safetyStock: c.safetyStock ?? 0,
        leadTimeHours: c.leadTimeHours,
      })),
    );
  }

  /** Applies commands one partition chunk at a time; returns every output with its event time. */
  async function apply(topic: 'stock' | 'orders', commands: StockCommand[]): Promise<Emitted[]> {
    const emitted: Emitted[] = [];
    for (let i = 0; i < commands.length; i += 200) {
      const chunk = commands.slice(i, i + 200);
      const start = (offsets.get(topic) ?? -1) + 1;
      const items = chunk.map((command, j) => ({ offset: start + j, command }));
      offsets.set(topic, start + chunk.length - 1);
      const res = await store.applyBatch(topic, 0, items, start - 1);
      for (const r of res.applied) {
        const at = (chunk[r.offset - start] as StockCommand).at as number;
        for (const output of r.outputs) emitted.push({ at, output });
      }
    }
    return emitted;
  }

  const receive = (id: string, sku: string, quantity: number, at: number): StockCommand => ({
    kind: 'RECEIVED',
    eventId: id,
    sku,
    quantity,
    at,
  });

  /** A sale: the order placed (reserved) and paid (sold) a minute later. */
  function sale(n: number, sku: string, quantity: number, at: number): StockCommand[] {
    return [
      { kind: 'PLACE', eventId: `pl-${n}`, orderId: `o-${n}`, lines: [{ sku, quantity }], at },
      { kind: 'PAY', eventId: `pay-${n}`, orderId: `o-${n}`, at: at + 60_000 },
    ];
  }

  const alertsOf = (emitted: Emitted[], kind: string) =>
    emitted.filter((e) => e.output.k === 'alert' && e.output.kind === kind);

  it('a steady seller: one STOCKOUT_PREDICTED before it runs out, within 10 % of the true time; a receipt clears it', async () => {
    // lead time 24 h + margin 24 h: the warning is due 48 h before the stock-out
    await fresh([{ sku: 'S', leadTimeHours: 24 }]);
    const stock = 1_000;
    const perHour = 5;
    await apply('stock', [receive('open', 'S', stock, T0)]);
    const orders: StockCommand[] = [];
    // one unit every 12 minutes until the shelf is empty: the last sale empties it at exactly
    const every = HOUR / perHour;
    for (let n = 0; n < stock; n++) orders.push(...sale(n, 'S', 1, T0 + every * (n + 1)));
    const trueStockOut = T0 + every * stock;
    const emitted = await apply('orders', orders);

    const predicted = alertsOf(emitted, 'STOCKOUT_PREDICTED');
    expect(predicted).toHaveLength(1);
    const alert = predicted[0] as Emitted;
    if (alert.output.k !== 'alert') throw new Error('not an alert');
    expect(alert.at).toBeLessThan(trueStockOut);
    // raised when the remaining cover fell under the 48 h horizon (as far as the estimate
    // is right: it peaks just after each sale), not much later
    const warnedAhead = (trueStockOut - alert.at) / HOUR;
    expect(warnedAhead).toBeGreaterThan(48 * 0.9);
    expect(warnedAhead).toBeLessThan(48 * 1.1);
    // the prediction it carries: within 10 % of the true remaining time
    const predictedAt = alert.output.at as number;
    const error = Math.abs(predictedAt - trueStockOut) / (trueStockOut - alert.at);
    expect(error).toBeLessThan(0.1);
    console.log(
      `steady seller: warned ${warnedAhead.toFixed(2)} h ahead, prediction off by ${(error * 100).toFixed(2)} %`,
    );
    expect(alert.output.vel).toBeGreaterThan(perHour * 0.9);
    expect(alert.output.vel).toBeLessThan(perHour * 1.1);
    expect(alertsOf(emitted, 'STOCKOUT_CLEARED')).toHaveLength(0);

    const sku = await store.getSku('S');
    expect(sku?.available).toBe(0);
    expect(sku?.stockoutPredicted).toBe(true);
    // velocity visible in the state: about 5 an hour both reserved and sold
    expect(sku?.reservedPerHour).toBeGreaterThan(4.5);
    expect(sku?.soldPerHour).toBeGreaterThan(4.5);

    // the suggestions followed the velocity as it built up: a handful, not one per event
    const suggestions = emitted.filter((e) => e.output.k === 'repl');
    expect(suggestions.length).toBeGreaterThan(3);
    expect(suggestions.length).toBeLessThan(60);

    // a receipt lifts the cover far past the horizon: one clearing alert
    const restock = await apply('stock', [receive('restock', 'S', 2_000, trueStockOut + HOUR)]);
    expect(alertsOf(restock, 'STOCKOUT_CLEARED')).toHaveLength(1);
    expect(alertsOf(restock, 'STOCKOUT_PREDICTED')).toHaveLength(0);
    expect((await store.getSku('S'))?.stockoutPredicted).toBe(false);
  });

  it('a slowdown clears the prediction; a SKU without sales never gets one', async () => {
    await fresh([
      { sku: 'F', leadTimeHours: 10 },
      { sku: 'Q', leadTimeHours: 10 },
    ]);
    await apply('stock', [receive('f0', 'F', 100, T0), receive('q0', 'Q', 5, T0)]);
    // 20 units an hour for three hours: 40 left cover 2 h, under 10 + 24
    const burst: StockCommand[] = [];
    for (let n = 0; n < 60; n++) burst.push(...sale(n, 'F', 1, T0 + n * 180_000));
    const during = await apply('orders', burst);
    expect(alertsOf(during, 'STOCKOUT_PREDICTED')).toHaveLength(1);
    // a week later one more sale: the rate decayed by 2^-7 in those days, cover is ample
    const later = await apply('orders', sale(1_000, 'F', 1, T0 + 7 * 24 * HOUR));
    expect(alertsOf(later, 'STOCKOUT_CLEARED')).toHaveLength(1);

    // receipts and adjustments alone: no velocity, no alert, no suggestion
    const quiet = await apply('stock', [
      receive('q1', 'Q', 1, T0 + HOUR),
      { kind: 'ADJUSTED', eventId: 'q2', sku: 'Q', quantity: -5, at: T0 + 2 * HOUR },
    ]);
    const forecastOutputs = quiet.filter(
      (e) => e.output.k === 'repl' || (e.output.k === 'alert' && e.output.kind.startsWith('STOCKOUT')),
    );
    expect(forecastOutputs).toEqual([]);
    expect((await store.getSku('Q'))?.reservedPerHour).toBe(0);
  });

  it('a SKU that stops selling is cleared by the sweep, without an event of its own', async () => {
    await fresh([{ sku: 'F', leadTimeHours: 10 }]);
    await apply('stock', [receive('f0', 'F', 100, T0)]);
    const burst: StockCommand[] = [];
    for (let n = 0; n < 60; n++) burst.push(...sale(n, 'F', 1, T0 + n * 180_000));
    const during = await apply('orders', burst);
    const predicted = alertsOf(during, 'STOCKOUT_PREDICTED')[0]?.output;
    expect(predicted).toBeDefined();
    // the index of standing predictions: the SKU, by its predicted time
    const keys = store.shards.keys[0];
    if (!keys || predicted?.k !== 'alert') throw new Error('no shard');
    expect(await redis.zrange(keys.atRisk(), '0', '-1', 'WITHSCORES')).toEqual(['F', String(predicted.at)]);

    // right after the burst the prediction stands; a week later the rate has decayed away
    const end = T0 + 3 * HOUR;
    expect((await store.sweepPredictions(0, 0, 100, end)).cleared).toBe(0);
    const version = (await store.getSku('F'))?.version as number;
    expect((await store.sweepPredictions(0, 0, 100, end + 7 * 24 * HOUR)).cleared).toBe(1);
    const after = await store.getSku('F');
    expect(after).toMatchObject({ stockoutPredicted: false, version: version + 1 });
    expect(await redis.zcard(keys.atRisk())).toBe(0);
    // the clearing goes out with the pending alerts, and the changelog owes the SKU a record
    const queued = await store.changelog.claimPendingAlerts(0, 10, 1_000);
    expect(queued).toMatchObject([
      { sku: 'F', kind: 'STOCKOUT_CLEARED', version: version + 1, src: 'forecast-sweep' },
    ]);
    expect(await redis.hget(keys.dirty(), 'F')).toMatch(/^@\d+\|forecast-sweep:F:\d+\|$/);
    // nothing left to clear: a second sweep is a no-op
    expect((await store.sweepPredictions(0, 0, 100, end + 8 * 24 * HOUR)).cleared).toBe(0);
  });

  it('a record written before forecasting is read with the catalogue defaults and written back whole', async () => {
    await fresh([]);
    const key = store.shards.keysOfSku('OLD').sku('OLD');
    // on 50, reserved 0, version 3, threshold 2, safety 1, catalogue v1, level 0
    await redis.hset(key, 'OLD', '50:0:3:2:1:1:0');
    const emitted = await apply('orders', sale(1, 'OLD', 2, T0));
    expect(emitted.find((e) => e.output.k === 'result')?.output).toMatchObject({ outcome: 'RESERVED' });
    // written back packed, all seventeen fields: it has sold now
    const raw = (await redis.hgetBuffer(key, 'OLD')) as Buffer;
    expect(raw[0]).toBe(PACKED_RECORD_MARK);
    expect(parseSkuRecord(raw)).toMatchObject({ on: 48, v: 5, lt: 72 });
    expect(parseSkuRecord(raw)?.sv).toBeGreaterThan(0);
    const sku = await store.getSku('OLD');
    expect(sku).toMatchObject({ onHand: 48, reserved: 0, version: 5, leadTimeHours: 72, orderCost: 50 });
    expect(sku?.soldPerHour).toBeGreaterThan(0);
  });

  it('suggests the economic order quantity and the reorder point from the velocity', async () => {
    await fresh([{ sku: 'E', leadTimeHours: 48, safetyStock: 10 }], {
      halfLifeSeconds: 6 * 3600,
      marginHours: 0,
    });
    await apply('stock', [receive('e0', 'E', 10_000, T0)]);
    // 10 units an hour for 3 days (12 half-lives): the velocity has converged
    const orders: StockCommand[] = [];
    for (let n = 0; n < 720; n++) orders.push(...sale(n, 'E', 1, T0 + n * 360_000));
    const emitted = await apply('orders', orders);
    const last = emitted.filter((e) => e.output.k === 'repl').at(-1)?.output;
    if (last?.k !== 'repl') throw new Error('no suggestion');
    // reorder point 10/h x 48 h + 10 = 490; EOQ sqrt(2 x 50 x 240 / 0.05) = 693 (defaults C_o 50, H 0.05)
    expect(Math.abs(last.ro - 490) / 490).toBeLessThan(0.12);
    expect(Math.abs(last.rq - 693) / 693).toBeLessThan(0.12);
    expect(last.due).toBe(false);
  });
});
