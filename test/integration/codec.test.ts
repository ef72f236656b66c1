import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import type { KafkaMessage } from 'kafkajs';
import { createProducer } from '../../runtime/kafka.js';
import { DecodeError, type AvroCodec } from '../../schemas/codec.js';
import { schemaFor, valueSubject } from '../../schemas/catalog.js';
import { setCompatibility } from '../../schemas/register.js';
import { orderEvent } from '../../schemas/factories.js';
import type { OrderEvent, StockEvent } from '../../schemas/types.js';
import { provisionPrefix, testKafka, testStack, uniquePrefix } from '../helpers/pipeline.js';

const order: OrderEvent = orderEvent({
  eventId: 'evt-1',
  orderId: 'ORD-1',
  type: 'PLACED',
  occurredAt: 1_795_000_000_123,
  lines: [
    { sku: 'SKU-1', quantity: 2, unitPriceMinor: 1999 },
    { sku: 'SKU-ü-2', quantity: 1, unitPriceMinor: null },
  ],
  customerId: 'C-9',
  currency: 'EUR',
});

const stock: StockEvent = {
  eventId: 'evt-2',
  sku: 'SKU-1',
  type: 'ADJUSTED',
  quantity: -3,
  occurredAt: 1_795_000_000_456,
  reason: 'damaged',
  warehouseId: null,
};

async function expectDecodeError(promise: Promise<unknown>, kind: DecodeError['kind']): Promise<DecodeError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DecodeError);
  expect((err as DecodeError).kind).toBe(kind);
  return err as DecodeError;
}

describe('Avro through the real registry and broker', () => {
  const prefix = uniquePrefix('codec');
  let codec: AvroCodec;

  beforeAll(async () => {
    codec = await provisionPrefix(prefix);
  });

  it('an event produced through the registry is consumed and decoded back intact', async () => {
    const kafka = testKafka('codec-test');
    const producer = createProducer(kafka);
    await producer.connect();
    await producer.send({
      topic: `${prefix}orders`,
      messages: [{ key: order.orderId, value: await codec.encode('orders', order) }],
    });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: `${prefix}reader` });
    await consumer.connect();
    await consumer.subscribe({ topic: `${prefix}orders`, fromBeginning: true });
    const received = await new Promise<{ key: string; value: OrderEvent }>((resolve, reject) => {
      consumer
        .run({
          eachMessage: async ({ message }) => {
            resolve({ key: String(message.key), value: await codec.decode('orders', message.value) });
          },
        })
        .catch(reject);
    });
    await consumer.disconnect();
    expect(received.key).toBe('ORD-1');
    expect(received.value).toEqual(order);
  });

  it('records written by the patched kafkajs producer path reach consumers intact: keys, headers, tombstones, timestamps', async () => {
    const kafka = testKafka('codec-records');
    const producer = createProducer(kafka);
    await producer.connect();
    const value = await codec.encode('stock', stock);
    const sent = [
      {
        key: 'SKU-ü',
        value,
        headers: { src: 'stock:0:7', 'event.id': 'evt-2', multi: ['a', 'b'] },
        timestamp: '1795000000000',
      },
      { key: 'SKU-2', value: null, headers: {}, timestamp: '1795000000001' },
      {
        key: null,
        value: Buffer.alloc(70_000, 7),
        headers: { big: Buffer.alloc(300, 1) },
        timestamp: '1794000000000',
      },
    ];
    await producer.send({ topic: `${prefix}stock`, messages: sent });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: `${prefix}records` });
    await consumer.connect();
    await consumer.subscribe({ topic: `${prefix}stock`, fromBeginning: true });
    const received: KafkaMessage[] = [];
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          eachMessage: async ({ message }) => {
            received.push(message);
            if (received.length === sent.length) resolve();
          },
        })
        .catch(reject);
    });
    await consumer.disconnect();
    received.sort((a, b) => Number(b.timestamp) - Number(a.timestamp));
    expect(received.map((m) => m.key?.toString() ?? null)).toEqual(['SKU-2', 'SKU-ü', null]);
    expect(received.map((m) => m.timestamp)).toEqual(['1795000000001', '1795000000000', '1794000000000']);
    expect(received[0]?.value).toBeNull();
    expect(await codec.decode('stock', received[1]?.value ?? null)).toEqual(stock);
    expect(received[1]?.headers).toEqual({
      src: Buffer.from('stock:0:7'),
      'event.id': Buffer.from('evt-2'),
      multi: [Buffer.from('a'), Buffer.from('b')],
    });
    expect(received[2]?.value?.equals(Buffer.alloc(70_000, 7))).toBe(true);
    expect(received[2]?.headers).toEqual({ big: Buffer.alloc(300, 1) });
  });

  it('reports bytes that are not Confluent-framed Avro as a typed decode error', async () => {
    await expectDecodeError(codec.decode('orders', Buffer.from('{"orderId":"x"}')), 'NOT_CONFLUENT_FRAMED');
    await expectDecodeError(codec.decode('orders', Buffer.from([0, 0, 1])), 'NOT_CONFLUENT_FRAMED');
    await expectDecodeError(codec.decode('orders', Buffer.alloc(0)), 'EMPTY');
    await expectDecodeError(codec.decode('orders', null), 'EMPTY');
  });

  it('reports a schema id the registry does not know as a typed decode error', async () => {
    const framed = await codec.encode('orders', order);
    framed.writeInt32BE(987_654_321, 1);
    const err = await expectDecodeError(codec.decode('orders', framed), 'UNKNOWN_SCHEMA_ID');
    expect(err.schemaId).toBe(987_654_321);
  });

  it('refuses a message written with another subject’s schema', async () => {
    const stockBytes = await codec.encode('stock', stock);
    await expectDecodeError(codec.decode('orders', stockBytes), 'INCOMPATIBLE_SCHEMA');
  });

  it('reports truncated and padded payloads as malformed', async () => {
    const good = await codec.encode('orders', order);
    await expectDecodeError(codec.decode('orders', good.subarray(0, good.length - 4)), 'MALFORMED_PAYLOAD');
    await expectDecodeError(
      codec.decode('orders', Buffer.concat([good, Buffer.from([1, 2])])),
      'MALFORMED_PAYLOAD',
    );
  });

  it('decodes synchronously once a schema id is known, with the same values and the same errors', async () => {
    const fresh = await provisionPrefix(uniquePrefix('codec-now'));
    const bytes = await fresh.encode('stock', stock);
    const first = fresh.decodeNow('stock', bytes);
    expect(first).toBeInstanceOf(Promise); // the registry is asked once
    expect(await first).toEqual(stock);
    const again = fresh.decodeNow('stock', bytes);
    expect(again).not.toBeInstanceOf(Promise);
    expect(again).toEqual(stock);
    const sync = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return err;
      }
      return null;
    };
    expect(sync(() => fresh.decodeNow('stock', bytes.subarray(0, bytes.length - 2)))).toMatchObject({
      kind: 'MALFORMED_PAYLOAD',
    });
    expect(sync(() => fresh.decodeNow('stock', Buffer.from('x')))).toMatchObject({
      kind: 'NOT_CONFLUENT_FRAMED',
    });
    // an id known to be of another subject stays refused without asking again
    await expectDecodeError(
      Promise.resolve().then(() => fresh.decodeNow('orders', bytes)),
      'INCOMPATIBLE_SCHEMA',
    );
    expect(sync(() => fresh.decodeNow('orders', bytes))).toMatchObject({ kind: 'INCOMPATIBLE_SCHEMA' });
  });

  it('the registry refuses an incompatible schema change and accepts a compatible one', async () => {
    const subject = valueSubject(prefix, 'stock');
    const base = JSON.parse(schemaFor('stock').text) as { fields: object[] };
    const incompatible = { ...base, fields: [...base.fields, { name: 'lotNumber', type: 'string' }] };
    const compatible = {
      ...base,
      fields: [...base.fields, { name: 'lotNumber', type: ['null', 'string'], default: null }],
    };
    const url = testStack().registryUrl;
    await setCompatibility(url, subject, 'BACKWARD');
    const post = (schema: object) =>
      fetch(`${url}/subjects/${subject}/versions`, {
        method: 'POST',
        headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
        body: JSON.stringify({ schema: JSON.stringify(schema) }),
      });
    const refused = await post(incompatible);
    expect(refused.status).toBe(409);
    const accepted = await post(compatible);
    expect(accepted.status).toBe(200);

    // old messages stay readable by the current reader after the compatible change
    const oldBytes = codec.encodeWithId('stock', await codec.writerId('stock'), stock);
    expect(await codec.decode('stock', oldBytes)).toEqual(stock);
  });

  afterAll(async () => {
    const admin = testKafka('cleanup').admin();
    await admin.connect();
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    await admin.deleteTopics({ topics });
    await admin.disconnect();
  });
});
