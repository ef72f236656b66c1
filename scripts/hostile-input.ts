import { randomBytes } from 'node:crypto';
import type { Message } from 'kafkajs';
import type { AvroCodec } from '../schemas/codec.js';
import { orderEvent } from '../schemas/factories.js';
import { signOrderEvent } from '../schemas/order-signature.js';
import type { CarrierEvent, StockEvent } from '../schemas/types.js';

/**
 * Bad messages of every kind we know upstream (or an attacker) can produce, each tagged with the
 * header `hostile.class` so a test or an operator can follow it into the dead-letter topics
 * (dead letters keep the original headers). `expect` is the `dlq.reason` each processor
 * reading that topic must give it; an empty list means it must NOT be dead-lettered.
 */
export interface HostileMessage {
  cls: string;
  /** topic name without prefix */
  topic: 'stock' | 'orders' | 'carrier';
  message: Message;
  expect: Record<string, string>;
}

export interface HostileContext {
  codec: AvroCodec;
  /** a SKU the catalogue knows, and an event id already applied for it (for the re-send) */
  knownSku: string;
  appliedStockEvent: StockEvent;
  signingSecret?: string;
  now?: number;
}

export const HOSTILE_CLASSES = [
  'RANDOM_BYTES',
  'WRONG_MAGIC_BYTE',
  'TRUNCATED_AVRO',
  'UNKNOWN_SCHEMA_ID',
  'OTHER_SUBJECT_SCHEMA',
  'EMPTY_VALUE',
  'OVERSIZED',
  'MISSING_KEY',
  'HUGE_QUANTITY',
  'NEGATIVE_QUANTITY',
  'UNKNOWN_SKU',
  'CLOCK_SKEW',
  'DUPLICATE_EVENT_ID',
  'UNKNOWN_ORDER',
  'EMPTY_ORDER',
  'REPEATED_ORDER_LINE',
  'TAMPERED_SIGNATURE',
  'INVALID_TRACKING_NUMBER',
] as const;

const stockOnly = (reason: string) => ({ inventory: reason });
const ordersBoth = (reason: string, ordersReason = reason) => ({ inventory: reason, orders: ordersReason });

export async function hostileMessages(ctx: HostileContext, n: number): Promise<HostileMessage[]> {
  const { codec } = ctx;
  const now = ctx.now ?? Date.now();
  const stockId = await codec.writerId('stock');
  const carrierId = await codec.writerId('carrier');
  const ordersId = await codec.writerId('orders');
  const tag = `${now.toString(36)}-${n}`;
  const stockEvent = (fields: Partial<StockEvent>): StockEvent => ({
    eventId: `hostile-${tag}-${fields.type ?? 'RECEIVED'}-${Math.random().toString(36).slice(2, 8)}`,
    sku: ctx.knownSku,
    type: 'RECEIVED',
    quantity: 1,
    occurredAt: now,
    reason: null,
    warehouseId: null,
    ...fields,
  });
  const good = codec.encodeWithId('stock', stockId, stockEvent({}));
  const carrier: CarrierEvent = {
    eventId: `hostile-${tag}-scan`,
    trackingNumber: `HOSTILE-${tag}`,
    carrier: 'DHL',
    orderId: null,
    type: 'IN_TRANSIT',
    occurredAt: now,
    location: null,
    promisedDeliveryAt: null,
    detail: null,
  };
  const order = (fields: Partial<Parameters<typeof orderEvent>[0]>) =>
    signOrderEvent(
      orderEvent({
        eventId: `hostile-${tag}-order`,
        orderId: `hostile-${tag}`,
        type: 'CANCELLED',
        ...fields,
      }),
      ctx.signingSecret,
    );
  const stockMsg = (value: Buffer | null, key: string | null = ctx.knownSku): Message => ({ key, value });

  const all: HostileMessage[] = [];
  const add = (
    cls: string,
    topic: HostileMessage['topic'],
    message: Message,
    expect: Record<string, string>,
  ) => all.push({ cls, topic, message, expect });

  const random = randomBytes(1 + (n % 200));
  random[0] = 0x7b; // never the Confluent magic byte
  add('RANDOM_BYTES', 'stock', stockMsg(random), stockOnly('NOT_CONFLUENT_FRAMED'));
  const wrongMagic = Buffer.from(good);
  wrongMagic[0] = 1;
  add('WRONG_MAGIC_BYTE', 'stock', stockMsg(wrongMagic), stockOnly('NOT_CONFLUENT_FRAMED'));
  add('TRUNCATED_AVRO', 'stock', stockMsg(good.subarray(0, good.length - 4)), stockOnly('MALFORMED_PAYLOAD'));
  const unknownId = Buffer.from(good);
  unknownId.writeInt32BE(2_000_000_000 + n, 1);
  add('UNKNOWN_SCHEMA_ID', 'stock', stockMsg(unknownId), stockOnly('UNKNOWN_SCHEMA_ID'));
  add(
    'OTHER_SUBJECT_SCHEMA',
    'stock',
    stockMsg(codec.encodeWithId('carrier', carrierId, carrier)),
    stockOnly('INCOMPATIBLE_SCHEMA'),
  );
  add('EMPTY_VALUE', 'stock', stockMsg(Buffer.alloc(0)), stockOnly('EMPTY'));
  add(
    'OVERSIZED',
    'stock',
    stockMsg(Buffer.concat([good.subarray(0, 5), Buffer.alloc(100 * 1024, 7)])),
    stockOnly('TOO_LARGE'),
  );
  add('MISSING_KEY', 'stock', stockMsg(good, null), stockOnly('MISSING_KEY'));
  add(
    'HUGE_QUANTITY',
    'stock',
    stockMsg(codec.encodeWithId('stock', stockId, stockEvent({ quantity: 2_000_000_000 }))),
    stockOnly('QUANTITY_TOO_LARGE'),
  );
  add(
    'NEGATIVE_QUANTITY',
    'stock',
    stockMsg(codec.encodeWithId('stock', stockId, stockEvent({ quantity: -5 }))),
    stockOnly('INVALID_QUANTITY'),
  );
  const unknownSku = `UNKNOWN-${tag}`;
  add(
    'UNKNOWN_SKU',
    'stock',
    stockMsg(codec.encodeWithId('stock', stockId, stockEvent({ sku: unknownSku })), unknownSku),
    stockOnly('UNKNOWN_SKU'),
  );
  add(
    'CLOCK_SKEW',
    'stock',
    stockMsg(codec.encodeWithId('stock', stockId, stockEvent({ occurredAt: now + 3 * 86_400_000 }))),
    stockOnly('CLOCK_SKEW'),
  );
  // the same event id again with another quantity: applied once, never dead-lettered
  add(
    'DUPLICATE_EVENT_ID',
    'stock',
    stockMsg(codec.encodeWithId('stock', stockId, { ...ctx.appliedStockEvent, quantity: 999 })),
    {},
  );

  const orderMsg = (value: ReturnType<typeof order>): Message => ({
    key: value.orderId,
    value: codec.encodeWithId('orders', ordersId, value),
  });
  add('UNKNOWN_ORDER', 'orders', orderMsg(order({})), ordersBoth('UNKNOWN_ORDER', 'ORDER_UNKNOWN'));
  add('EMPTY_ORDER', 'orders', orderMsg(order({ type: 'PLACED', lines: [] })), ordersBoth('EMPTY_ORDER'));
  const line = { sku: ctx.knownSku, quantity: 1, unitPriceMinor: null };
  add(
    'REPEATED_ORDER_LINE',
    'orders',
    orderMsg(order({ type: 'PLACED', lines: [line, line] })),
    ordersBoth('DUPLICATE_SKU_LINE'),
  );
  if (ctx.signingSecret) {
    const tampered = { ...order({ type: 'PLACED', lines: [line] }), lines: [{ ...line, quantity: 50 }] };
    add('TAMPERED_SIGNATURE', 'orders', orderMsg(tampered), ordersBoth('BAD_SIGNATURE'));
  }
  add(
    'INVALID_TRACKING_NUMBER',
    'carrier',
    {
      key: 'bad tracking!',
      value: codec.encodeWithId('carrier', carrierId, { ...carrier, trackingNumber: 'bad tracking!' }),
    },
    { logistics: 'INVALID_TRACKING_NUMBER' },
  );

  for (const m of all) {
    m.message.headers = { ...(m.message.headers ?? {}), 'hostile.class': m.cls };
  }
  return all;
}
