import type { OrderEvent } from './types.js';

/** An OrderEvent with every optional field empty: producers and tests fill in what they need. */
export function orderEvent(
  fields: Partial<OrderEvent> & Pick<OrderEvent, 'eventId' | 'orderId' | 'type'>,
): OrderEvent {
  return {
    occurredAt: Date.now(),
    lines: [],
    customerId: null,
    currency: null,
    paymentId: null,
    trackingNumber: null,
    carrier: null,
    promisedDeliveryAt: null,
    reason: null,
    signature: null,
    ...fields,
  };
}
