import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  defaultLimits,
  validateOrderEvent,
  validateProductUpdate,
  validateStockEvent,
} from '../../processors/inventory/commands.js';
import { orderEvent } from '../../schemas/factories.js';
import type { OrderEvent, StockEvent } from '../../schemas/types.js';

const now = 1_795_000_000_000;
const stockEvent = (type: StockEvent['type'], quantity: number, sku = 'SKU-1'): StockEvent => ({
  eventId: 'e1',
  sku,
  type,
  quantity,
  occurredAt: now,
  reason: null,
  warehouseId: null,
});
const placed = (lines: { sku: string; quantity: number }[]): OrderEvent =>
  orderEvent({
    eventId: 'e1',
    orderId: 'o1',
    type: 'PLACED',
    occurredAt: now,
    lines: lines.map((l) => ({ ...l, unitPriceMinor: null })),
  });

describe('domain validation of input events', () => {
  it('accepts what the contract allows and names the rule it breaks otherwise', () => {
    expect(validateStockEvent(stockEvent('RECEIVED', 5), now)).toMatchObject({ ok: true });
    expect(validateStockEvent(stockEvent('RECEIVED', 0), now)).toMatchObject({ reason: 'INVALID_QUANTITY' });
    expect(validateStockEvent(stockEvent('ADJUSTED', -3), now)).toMatchObject({ ok: true });
    expect(validateStockEvent(stockEvent('ADJUSTED', 0), now)).toMatchObject({ reason: 'INVALID_QUANTITY' });
    expect(validateStockEvent(stockEvent('COUNTED', 0), now)).toMatchObject({ ok: true });
    expect(validateStockEvent(stockEvent('COUNTED', -1), now)).toMatchObject({ reason: 'INVALID_QUANTITY' });
    expect(validateStockEvent(stockEvent('RECEIVED', 2_000_000), now)).toMatchObject({
      reason: 'QUANTITY_TOO_LARGE',
    });
    expect(validateStockEvent(stockEvent('RECEIVED', 1, 'bad sku!'), now)).toMatchObject({
      reason: 'INVALID_SKU',
    });
    expect(
      validateStockEvent({ ...stockEvent('RECEIVED', 1), occurredAt: now + 2 * 86_400_000 }, now),
    ).toMatchObject({ reason: 'CLOCK_SKEW' });
  });

  it('checks every order line and refuses repeated SKUs', () => {
    expect(validateOrderEvent(placed([]), now)).toMatchObject({ reason: 'EMPTY_ORDER' });
    expect(validateOrderEvent(placed([{ sku: 'A', quantity: 0 }]), now)).toMatchObject({
      reason: 'INVALID_QUANTITY',
    });
    expect(
      validateOrderEvent(
        placed([
          { sku: 'A', quantity: 1 },
          { sku: 'A', quantity: 2 },
        ]),
        now,
      ),
    ).toMatchObject({ reason: 'DUPLICATE_SKU_LINE' });
    const many = Array.from({ length: defaultLimits.maxOrderLines + 1 }, (_, i) => ({
      sku: `S${i}`,
      quantity: 1,
    }));
    expect(validateOrderEvent(placed(many), now)).toMatchObject({ reason: 'TOO_MANY_LINES' });
    // a delivery proves the goods left: for stock it is a shipment
    expect(validateOrderEvent({ ...placed([]), type: 'DELIVERED' }, now)).toMatchObject({
      ok: true,
      command: { kind: 'DELIVER' },
    });
    expect(validateOrderEvent({ ...placed([]), type: 'EXPIRED' }, now)).toMatchObject({
      command: { kind: 'EXPIRE' },
    });
    expect(validateOrderEvent({ ...placed([]), type: 'CANCELLED' }, now)).toMatchObject({
      command: { kind: 'CANCEL' },
    });
    expect(validateOrderEvent({ ...placed([]), type: 'PAID' }, now)).toMatchObject({
      command: { kind: 'PAY' },
    });
    expect(validateOrderEvent({ ...placed([]), type: 'SHIPPED' }, now)).toMatchObject({
      command: { kind: 'SHIP' },
    });
  });

  it('never lets a non-positive or oversized quantity through as a command (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('RECEIVED', 'ADJUSTED', 'COUNTED') as fc.Arbitrary<StockEvent['type']>,
        fc.integer(),
        (type, q) => {
          const v = validateStockEvent(stockEvent(type, q), now);
          if (!v.ok || !v.command) return;
          expect(Math.abs(q)).toBeLessThanOrEqual(defaultLimits.maxQuantity);
          if (type === 'RECEIVED') expect(q).toBeGreaterThan(0);
          if (type === 'COUNTED') expect(q).toBeGreaterThanOrEqual(0);
          if (type === 'ADJUSTED') expect(q).not.toBe(0);
        },
      ),
    );
  });

  it('refuses negative thresholds in catalogue updates', () => {
    const u = {
      sku: 'A',
      version: 1,
      name: 'a',
      category: 'c',
      lowStockThreshold: -1,
      safetyStock: 0,
      active: true,
      updatedAt: now,
    };
    expect(validateProductUpdate(u, now)).toMatchObject({ reason: 'INVALID_THRESHOLD' });
    expect(validateProductUpdate({ ...u, lowStockThreshold: 3 }, now)).toMatchObject({ ok: true });
  });
});
