import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { orderEvent } from '../../schemas/factories.js';
import { canonicalOrderText, signOrderEvent, verifyOrderSignature } from '../../schemas/order-signature.js';
import type { OrderEvent } from '../../schemas/types.js';

const SECRET = 'unit-test-secret-0123456789';

const arbOrder: fc.Arbitrary<OrderEvent> = fc
  .record({
    eventId: fc.string({ minLength: 1, maxLength: 12 }),
    orderId: fc.string({ minLength: 1, maxLength: 12 }),
    type: fc.constantFrom('PLACED', 'PAID', 'SHIPPED', 'CANCELLED'),
    occurredAt: fc.integer({ min: 0, max: 2 ** 42 }),
    lines: fc.array(
      fc.record({
        sku: fc.string({ minLength: 1, maxLength: 6 }),
        quantity: fc.integer({ min: 1, max: 9 }),
        unitPriceMinor: fc.option(fc.integer({ min: 0, max: 9999 })),
      }),
      { maxLength: 3 },
    ),
    paymentId: fc.option(fc.string({ maxLength: 6 })),
    reason: fc.option(fc.string({ maxLength: 6 })),
  })
  .map((f) => orderEvent(f as Parameters<typeof orderEvent>[0]));

describe('order event signatures', () => {
  it('a signed event verifies; without a secret configured every event passes', () => {
    fc.assert(
      fc.property(arbOrder, (e) => {
        expect(verifyOrderSignature(signOrderEvent(e, SECRET), SECRET)).toBe('ok');
        expect(verifyOrderSignature(e, undefined)).toBe('ok');
        expect(verifyOrderSignature(e, SECRET)).toBe('MISSING_SIGNATURE');
      }),
    );
  });

  it('changing any signed field, or signing with another secret, fails verification', () => {
    fc.assert(
      fc.property(arbOrder, arbOrder, (a, b) => {
        fc.pre(canonicalOrderText(a) !== canonicalOrderText(b));
        const forged = { ...b, signature: signOrderEvent(a, SECRET).signature };
        expect(verifyOrderSignature(forged, SECRET)).toBe('BAD_SIGNATURE');
        expect(verifyOrderSignature(signOrderEvent(a, 'another-secret-0123456789'), SECRET)).toBe(
          'BAD_SIGNATURE',
        );
      }),
    );
  });

  it('field boundaries are part of the text: moving characters between fields changes it', () => {
    const a = orderEvent({ eventId: 'ab', orderId: 'c', type: 'PAID' });
    const b = orderEvent({ eventId: 'a', orderId: 'bc', type: 'PAID' });
    const nullVsEmpty = orderEvent({ eventId: 'a', orderId: 'b', type: 'PAID', reason: '' });
    expect(canonicalOrderText(a)).not.toBe(canonicalOrderText(b));
    expect(canonicalOrderText(nullVsEmpty)).not.toBe(canonicalOrderText({ ...nullVsEmpty, reason: null }));
    expect(verifyOrderSignature({ ...a, signature: 'zz' }, SECRET)).toBe('BAD_SIGNATURE');
  });
});
