import { describe, expect, it } from 'vitest';
import { VELOCITY_UNIT } from '../../processors/inventory/forecast.js';
import { levelsFromReply } from '../../processors/inventory/script-results.js';
import { completeSkuRecord, formatSkuRecord, SKU_FLAGS } from '../../processors/inventory/sku-record.js';

// Levels come back from the scripts as one MessagePack array of strings, four per SKU: sku,
// "<eventId>|<src>", the SKU record as written, parts (cmsgpack's packing, restated here).
function packStrings(strings: Buffer[]): Buffer {
  const head =
    strings.length < 16
      ? Buffer.of(0x90 + strings.length)
      : Buffer.of(0xdc, strings.length >> 8, strings.length & 0xff);
  return Buffer.concat([
    head,
    ...strings.map((s) =>
      Buffer.concat([s.length < 32 ? Buffer.of(0xa0 + s.length) : Buffer.of(0xd9, s.length), s]),
    ),
  ]);
}

describe('level records from the scripts', () => {
  it('read each SKU of a flat reply from its packed record, parts and source', () => {
    const sold = completeSkuRecord({
      on: 5,
      rs: -2,
      v: 9,
      rv: 2500,
      sv: -1,
      vt: 1_764_600_000,
      fc: SKU_FLAGS.PREDICTED,
      ro: 40,
      rq: 300,
    });
    const quiet = completeSkuRecord({ on: 7, rs: 0, v: 1 });
    const b = (s: string) => Buffer.from(s);
    const levels = levelsFromReply(
      packStrings([
        b('A'),
        b('ev-1|stock:0:17'),
        formatSkuRecord(sold),
        b('WH-A:3:1,WH-B:2:-3'),
        b('B'),
        b('republish|'),
        formatSkuRecord(quiet),
        b(''),
      ]),
    );
    expect(levels).toEqual([
      {
        sku: 'A',
        onHand: 5,
        reserved: -2,
        version: 9,
        sourceEventId: 'ev-1',
        src: 'stock:0:17',
        warehouseParts: 'WH-A:3:1,WH-B:2:-3',
        reservedPerHour: 2500 / VELOCITY_UNIT,
        soldPerHour: -1 / VELOCITY_UNIT,
        velocityAt: 1_764_600_000_000,
        stockoutPredicted: true,
        reorderNow: false,
        reorderPoint: 40,
        suggestedQuantity: 300,
      },
      expect.objectContaining({
        sku: 'B',
        onHand: 7,
        version: 1,
        sourceEventId: 'republish',
        src: '',
        soldPerHour: 0,
      }),
    ]);
  });

  it('refuse a reply whose record does not parse', () => {
    expect(levelsFromReply(Buffer.alloc(0))).toEqual([]);
    const bytes = [Buffer.from('A'), Buffer.from('x|y'), Buffer.from('1:2'), Buffer.from('')];
    expect(() => levelsFromReply(packStrings(bytes))).toThrow(/corrupt SKU record of A/);
    expect(() => levelsFromReply(packStrings(bytes).subarray(0, 9))).toThrow(/do not parse/);
  });
});
