import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StockShards } from '../../processors/inventory/shards.js';
import {
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

  it('refuse anything that is not exactly seven whole numbers', () => {
    for (const bad of [
      '',
      '1:2:3:4:5:6',
      '1:2:3:4:5:6:7:8',
      '1:2:3:4:5:6:x',
      '1.5:2:3:4:5:6:7',
      ' 1:2:3:4:5:6:7',
    ])
      expect(parseSkuRecord(bad), bad).toBeNull();
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
