import { describe, expect, it } from 'vitest';
import { namedHolds, parseHeldUnits, toEventResult } from '../../processors/inventory/script-results.js';

const resultOf = (out: Record<string, unknown>) => toEventResult({ o: 7, st: 'ok', out: [out] }).outputs[0];

describe('reservation results as the stock script reports them', () => {
  it('reads the lines and the named warehouses from the order record text', () => {
    expect(
      resultOf({ k: 'result', outcome: 'RESERVED', oid: 'O-1', ls: 'A-1:2,B-2:3@WH-N=1+WH-S=2' }),
    ).toEqual({
      k: 'result',
      outcome: 'RESERVED',
      oid: 'O-1',
      lines: [
        { sku: 'A-1', quantity: 2 },
        { sku: 'B-2', quantity: 3 },
      ],
      shortages: [],
      allocations: [
        { sku: 'B-2', warehouseId: 'WH-N', quantity: 1 },
        { sku: 'B-2', warehouseId: 'WH-S', quantity: 2 },
      ],
    });
  });

  it('names no warehouse when every line is in the default one', () => {
    const r = resultOf({ k: 'result', outcome: 'COMMITTED', oid: 'O-2', ls: 'A-1:1,C-3:4', r: 'RESTOCKED' });
    expect(r).toMatchObject({
      lines: [
        { sku: 'A-1', quantity: 1 },
        { sku: 'C-3', quantity: 4 },
      ],
      reason: 'RESTOCKED',
    });
    expect(r).not.toHaveProperty('allocations');
  });

  it('still reads results an earlier release stored in the outbox (lines and holds as lists)', () => {
    const older = {
      k: 'result',
      outcome: 'RESERVED',
      oid: 'O-3',
      l: [
        [4, 2, 'A-1'],
        [5, 3, 'B-2', [['WH-N', 3]]],
      ],
      al: [['B-2', 'WH-N', 3]],
    };
    const newer = { k: 'result', outcome: 'RESERVED', oid: 'O-3', ls: 'A-1:2,B-2:3@WH-N=3' };
    expect(resultOf(older)).toEqual(resultOf(newer));
    // cjson writes an empty list as {}
    expect(resultOf({ k: 'result', outcome: 'REJECTED', oid: 'O-4', l: {}, sh: {} })).toMatchObject({
      lines: [],
      shortages: [],
    });
  });

  it('lists every unit of a record, the default warehouse for plain lines', () => {
    expect(parseHeldUnits('A-1:2,B-2:3@WH-N=1+default=2', 'default')).toEqual([
      { sku: 'A-1', warehouseId: 'default', quantity: 2 },
      { sku: 'B-2', warehouseId: 'WH-N', quantity: 1 },
      { sku: 'B-2', warehouseId: 'default', quantity: 2 },
    ]);
    expect(namedHolds('A-1:2,B-2:3')).toEqual([]);
    expect(namedHolds('')).toEqual([]);
  });
});
