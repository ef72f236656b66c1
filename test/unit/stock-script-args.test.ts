import { describe, expect, it } from 'vitest';
import { InventoryKeys } from '../../processors/inventory/keys.js';
import { skuBucket } from '../../processors/inventory/sku-record.js';
import { applyScriptCall, type ShardSegment } from '../../processors/inventory/stock-script-args.js';

// two SKUs that share a bucket, found rather than assumed
function skusSharingABucket(): [string, string] {
  const seen = new Map<number, string>();
  for (let i = 0; ; i++) {
    const sku = `S-${i}`;
    const other = seen.get(skuBucket(sku));
    if (other) return [other, sku];
    seen.set(skuBucket(sku), sku);
  }
}

describe('apply-stock-batch call arguments', () => {
  const keys = new InventoryKeys('inv');
  const [a, b] = skusSharingABucket();
  const segments: ShardSegment[] = [
    {
      topic: 'stock',
      partition: 2,
      trimUpTo: 4,
      settle: false,
      upTo: 7,
      expectedApplied: 4,
      items: [
        {
          offset: 5,
          command: { kind: 'RECEIVED', eventId: 'r1', sku: a, quantity: 3 },
          lines: [],
          tentative: false,
        },
        {
          offset: 7,
          command: { kind: 'PLACE', eventId: 'p1', orderId: 'o1', lines: [{ sku: b, quantity: 1 }] },
          lines: [{ sku: b, quantity: 1 }],
          tentative: true,
        },
      ],
    },
    {
      topic: 'stock',
      partition: 9,
      trimUpTo: -1,
      settle: true,
      upTo: -1,
      expectedApplied: 0,
      items: [
        {
          offset: 1,
          command: { kind: 'CONFIRM', eventId: 'c1', orderId: 'o2' },
          lines: [{ sku: a, quantity: 2 }],
          tentative: false,
        },
      ],
    },
  ];
  const call = applyScriptCall(keys, segments, 1_000, 60, 120);
  const input = JSON.parse(call.args[0] as string) as {
    hz: number;
    dz: number;
    pz: number;
    rz: number;
    now: number;
    fx: { h: number; m: number; r: number };
    wh: { def: string; pref: string[] };
    segs: { w: number; b: number; up: number; src: string; trim: number; ev: Record<string, unknown>[] }[];
  };
  const key = (idx: unknown) => call.keys[(idx as number) - 1];

  it('declares every key once and references it by its 1-based index', () => {
    expect(new Set(call.keys).size).toBe(call.keys.length);
    expect([key(input.hz), key(input.dz), key(input.pz), key(input.rz)]).toEqual([
      '{inv}:holds',
      '{inv}:dirty',
      '{inv}:dirty-pending',
      '{inv}:at-risk',
    ]);
    expect(call.args.slice(1)).toEqual([60, 120]);
    expect(input.now).toBe(1_000);
    // the defaults: a day's velocity half-life, 24 h margin, one default warehouse
    expect(input.fx).toEqual({ h: 86_400, m: 24, r: 3_600 });
    expect(input.wh).toEqual({ def: 'default', pref: [] });
  });

  it('gives SKUs of one bucket the same key and names the SKU beside it', () => {
    const [receipt, place] = input.segs[0]?.ev ?? [];
    expect(receipt).toMatchObject({ t: 'RECEIVED', sku: a, q: 3, o: 5 });
    expect(key(receipt?.s)).toBe(keys.sku(a));
    expect(key(receipt?.e)).toBe(keys.eventIdBucket('r1'));
    const line = (place?.l as [number, number, string][])[0] as [number, number, string];
    expect(line[0]).toBe(receipt?.s);
    expect(line.slice(1)).toEqual([1, b]);
    expect(place).toMatchObject({ t: 'PLACE', oid: 'o1', tent: 1 });
    expect(key(place?.tk)).toBe(keys.tentative('o1'));
  });

  it('moves the watermark of a partition segment only; a settle segment has none', () => {
    const [seg, settle] = input.segs;
    expect(key(seg?.w)).toBe(keys.watermark('stock', 2));
    expect(seg).toMatchObject({ up: 7, trim: 4, src: 'stock:2' });
    expect(key(seg?.b)).toBe(keys.outbox('stock', 2));
    expect(settle).toMatchObject({ w: 0, up: -1 });
    // the position check goes with the watermark: a settle segment has neither
    expect(seg).toMatchObject({ ex: 4 });
    expect(settle).not.toHaveProperty('ex');
    expect(settle?.ev[0]).toMatchObject({ t: 'CONFIRM', oid: 'o2' });
    expect(key(settle?.ev[0]?.tk)).toBe(keys.tentative('o2'));
  });
});
