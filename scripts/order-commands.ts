import { Redis } from 'ioredis';
import { configOrExit } from '../runtime/config.js';
import { loadLogisticsConfig } from '../processors/logistics/config.js';
import { ShipmentStore } from '../processors/logistics/store.js';
import { loadOrdersConfig } from '../processors/orders/config.js';
import { OrderStore } from '../processors/orders/store.js';
import { printJson } from './cli-output.js';

const iso = (ms: number) => new Date(ms).toISOString();

export async function orderShow(orderId: string, json = false): Promise<number> {
  const config = configOrExit(loadOrdersConfig);
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 2 });
  try {
    const store = new OrderStore(redis, {
      keyTag: config.ORDERS_KEY_TAG,
      paymentDeadlineMs: config.ORDERS_PAYMENT_DEADLINE_MS,
      finalOrderTtlSeconds: config.ORDERS_FINAL_TTL_SECONDS,
    });
    const order = await store.get(orderId);
    if (json) {
      printJson({ orderId, known: order !== null, ...(order ?? {}) });
      return order ? 0 : 1;
    }
    if (!order) {
      console.log(`${orderId}: unknown (never seen, or final and past its retention)`);
      return 1;
    }
    console.log(`${orderId}: ${order.state}`);
    if (order.paymentDeadline) console.log(`  payment due by ${iso(order.paymentDeadline)}`);
    for (const w of order.waiting) console.log(`  ${w.c} ${w.id} waiting for the reservation`);
    if (order.trackingNumber) console.log(`  shipment ${order.carrier ?? ''} ${order.trackingNumber}`);
    console.log('\ntransitions:');
    for (const t of order.history) {
      console.log(
        `  ${String(t.n).padStart(3)}  ${iso(t.at)}  ${(t.from ?? '-').padEnd(9)} -> ${t.to.padEnd(9)}  by ${t.cause} ${t.src}${t.why ? `  (${t.why})` : ''}`,
      );
    }
    return 0;
  } finally {
    await redis.quit();
  }
}

export async function shipmentShow(trackingNumber: string, json = false): Promise<number> {
  const config = configOrExit(loadLogisticsConfig);
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 2 });
  try {
    const store = new ShipmentStore(redis, {
      keyTag: config.LOGISTICS_KEY_TAG,
      silenceMs: config.LOGISTICS_SILENCE_MS,
      finalTtlSeconds: config.LOGISTICS_FINAL_TTL_SECONDS,
    });
    const s = await store.get(trackingNumber);
    if (json) {
      printJson({ trackingNumber, known: s !== null, ...(s ?? {}) });
      return s ? 0 : 1;
    }
    if (!s) {
      console.log(`${trackingNumber}: unknown (never seen, or final and past its retention)`);
      return 1;
    }
    console.log(`${s.carrier} ${trackingNumber}: ${s.status}${s.orderId ? `  (order ${s.orderId})` : ''}`);
    if (s.promisedDeliveryAt) console.log(`  promised by ${iso(s.promisedDeliveryAt)}`);
    if (s.alerts.length) console.log(`  alerts raised: ${s.alerts.join(', ')}`);
    console.log('\ntimeline (carrier event time):');
    for (const e of s.timeline) {
      console.log(`  ${iso(e.at)}  ${e.ty.padEnd(16)} ${e.loc ?? ''}${e.det ? `  ${e.det}` : ''}  ${e.id}`);
    }
    return 0;
  } finally {
    await redis.quit();
  }
}
