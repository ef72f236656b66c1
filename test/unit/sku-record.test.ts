import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StockShards } from '../../processors/inventory/shards.js';
import {
  CATALOGUE_DEFAULTS,
  formatSkuRecord,
  parseSkuRecord,
  SKU_BUCKETS,
  SKU_RECORD_FIELDS,
  skuBucket,
  type SkuRecord,
} from '../../processors/inventory/sku-record.js';

const int = fc.integer({ min: -1_000_000_000, max: 1_000_000_000 });
const record = fc.record(
  Object.fromEntries(SKU_RECORD_FIELDS.map((f) => [f, int])),
) as fc.Arbitrary<SkuRecord>;

describe('packed SKU records', () => {
  it('read back what was written, for any whole numbers', () => {
    fc.assert(
      fc.property(record, (r) => {
        expect(parseSkuRecord(formatSkuRecord(r))).toEqual(r);
      }),
    );
  });

  it('refuse anything that is not seventeen (or, in the short form, seven) whole numbers', () => {
    const full = Array.from({ length: 17 }, (_, i) => String(i + 1));
    expect(parseSkuRecord(full.join(':'))).not.toBeNull();
    for (const bad of [
      '',
      '1:2:3:4:5:6',
      '1:2:3:4:5:6:7:8',
      full.slice(0, 16).join(':'),
      [...full, '17'].join(':'),
      '1:2:3:4:5:6:x',
      '1.5:2:3:4:5:6:7',
      ' 1:2:3:4:5:6:7',
    ])
      expect(parseSkuRecord(bad), bad).toBeNull();
  });

  it('read the short form (and records of the earlier layout) with the catalogue defaults and no sales', () => {
    expect(parseSkuRecord('9:2:5:3:1:4:0')).toEqual({
      on: 9,
      rs: 2,
      v: 5,
      th: 3,
      sf: 1,
      cv: 4,
      lv: 0,
      lt: CATALOGUE_DEFAULTS.leadTimeHours,
      oc: Math.round(CATALOGUE_DEFAULTS.orderCost * 100),
      hc: Math.round(CATALOGUE_DEFAULTS.holdingCostPerUnitDay * 1_000_000),
      rv: 0,
      sv: 0,
      vt: 0,
      fc: 0,
      ro: 0,
      rq: 0,
      rt: 0,
    });
  });

  it('spread the SKUs of every shard over all buckets', () => {
    const shards = new StockShards('inv', 4);
    const perShard = [
      new Map<number, number>(),
      new Map<number, number>(),
      new Map<number, number>(),
      new Map<number, number>(),
    ];
    for (let i = 0; i < 400_000; i++) {
      const sku = `SKU-${String(i).padStart(7, '0')}`;
      const m = perShard[shards.ofSku(sku)] as Map<number, number>;
      const b = skuBucket(sku);
      m.set(b, (m.get(b) ?? 0) + 1);
    }
    for (const m of perShard) {
      // about 6 SKUs per bucket on average: nearly every bucket used, none crowded
      expect(m.size).toBeGreaterThan(SKU_BUCKETS * 0.99);
      expect(Math.max(...m.values())).toBeLessThan(30);
    }
  });
});
