import { createHmac, timingSafeEqual } from 'node:crypto';
import type { OrderEvent } from './types.js';

/**
 * HMAC-SHA256 over an order event's canonical text: every field but the signature, in schema
 * order, each length-prefixed so that no two different events share a text ("ab"+"c" vs
 * "a"+"bc"). Upstream producers in other languages reproduce it from the README's description.
 */
export function canonicalOrderText(e: OrderEvent): string {
  const field = (v: string | number | null) => {
    const s = v === null ? '' : String(v);
    return `${v === null ? '-' : s.length}:${s}`;
  };
  const lines = e.lines.map((l) => `${field(l.sku)}${field(l.quantity)}${field(l.unitPriceMinor)}`).join('');
  return [
    field(e.eventId),
    field(e.orderId),
    field(e.type),
    field(e.occurredAt),
    field(e.lines.length),
    lines,
    field(e.customerId),
    field(e.currency),
    field(e.paymentId),
    field(e.trackingNumber),
    field(e.carrier),
    field(e.promisedDeliveryAt),
    field(e.reason),
  ].join('|');
}

export function orderSignature(e: OrderEvent, secret: string): string {
  return createHmac('sha256', secret).update(canonicalOrderText(e)).digest('hex');
}

export function signOrderEvent(e: OrderEvent, secret: string | undefined): OrderEvent {
  return secret ? { ...e, signature: orderSignature(e, secret) } : e;
}

export type SignatureVerdict = 'ok' | 'MISSING_SIGNATURE' | 'BAD_SIGNATURE';

/** Constant-time comparison; with no secret configured every event passes. */
export function verifyOrderSignature(e: OrderEvent, secret: string | undefined): SignatureVerdict {
  if (!secret) return 'ok';
  if (!e.signature) return 'MISSING_SIGNATURE';
  if (!/^[0-9a-f]{64}$/.test(e.signature)) return 'BAD_SIGNATURE';
  const expected = Buffer.from(orderSignature(e, secret), 'hex');
  return timingSafeEqual(expected, Buffer.from(e.signature, 'hex')) ? 'ok' : 'BAD_SIGNATURE';
}
