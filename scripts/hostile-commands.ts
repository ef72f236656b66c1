import type { Producer } from 'kafkajs';
import type { StockEvent } from '../schemas/types.js';
import type { CliContext } from './context.js';
import { hostileMessages } from './hostile-input.js';

/**
 * Produces every class of hostile message into a running pipeline (the demo's, by default):
 * a way to see dead-lettering, the dashboard's error panels and `dlq list` at work.
 */
export async function produceHostile(ctx: CliContext, producer: Producer, rounds: number): Promise<number> {
  const knownSku = 'SKU-000000'; // the demo catalogue's first SKU
  const applied: StockEvent = {
    eventId: 'hostile-resend-of-nothing',
    sku: knownSku,
    type: 'RECEIVED',
    quantity: 1,
    occurredAt: Date.now(),
    reason: 'hostile demo',
    warehouseId: null,
  };
  let sent = 0;
  for (let round = 0; round < rounds; round++) {
    const messages = await hostileMessages(
      {
        codec: ctx.codec,
        knownSku,
        appliedStockEvent: applied,
        ...(ctx.config.ORDER_SIGNING_SECRET ? { signingSecret: ctx.config.ORDER_SIGNING_SECRET } : {}),
      },
      round,
    );
    // a re-send of a real receipt would change the demo's stock: the tests cover that class
    for (const m of messages.filter((x) => x.cls !== 'DUPLICATE_EVENT_ID')) {
      await producer.send({ topic: ctx.config.TOPIC_PREFIX + m.topic, messages: [m.message], acks: -1 });
      sent += 1;
    }
  }
  return sent;
}
