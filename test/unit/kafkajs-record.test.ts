import fc from 'fast-check';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);

interface RecordFields {
  offsetDelta?: number;
  timestampDelta?: number;
  key?: Buffer | string | null;
  value?: Buffer | string | null;
  headers?: Record<string, Buffer | string | (Buffer | string)[]>;
}

interface KafkaEncoder {
  buffer: Buffer;
  writeVarInt(v: number): KafkaEncoder;
  writeInt8(v: number): KafkaEncoder;
  writeVarLong(v: number): KafkaEncoder;
  writeVarIntBytes(v: Buffer | string | null | undefined): KafkaEncoder;
  writeVarIntString(v: string): KafkaEncoder;
  writeVarIntArray(a: KafkaEncoder[]): KafkaEncoder;
  size(): number;
}
type EncoderClass = (new () => KafkaEncoder) & {
  sizeOfVarInt(v: number): number;
  sizeOfVarLong(v: number): number;
};

// kafkajs' generic protocol encoder (not patched): the record written field by field with it,
// as the Kafka protocol defines a v2 record, is the reference the patched encoder must match
const Encoder = require('kafkajs/src/protocol/encoder.js') as EncoderClass;
const patched = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as ((r: RecordFields) => {
  buffer: Buffer;
}) & { singleBufferEncoder?: boolean };

function reference({ offsetDelta = 0, timestampDelta = 0, key, value, headers = {} }: RecordFields): Buffer {
  const list = Object.entries(headers).flatMap(([name, v]) =>
    (Array.isArray(v) ? v : [v]).map((one) => ({ name, value: one })),
  );
  const encodedHeaders = list.map((h) => new Encoder().writeVarIntString(h.name).writeVarIntBytes(h.value));
  const body = new Encoder()
    .writeInt8(0)
    .writeVarLong(timestampDelta)
    .writeVarInt(offsetDelta)
    .writeVarIntBytes(key)
    .writeVarIntBytes(value)
    .writeVarIntArray(encodedHeaders);
  return Buffer.concat([new Encoder().writeVarInt(body.size()).buffer, body.buffer]);
}

// short ASCII text takes the patched loop, anything else (longer, or any other character) the
// native write: both, and the boundary at 64 characters
const text = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ maxLength: 80 }),
  fc.string({ unit: 'binary', maxLength: 70 }),
);
const bytes = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a));
const headerValue = fc.oneof(text, bytes);

const arbRecord: fc.Arbitrary<RecordFields> = fc.record({
  offsetDelta: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  // producers' timestamps around now, and far in the past or future of the batch's first one
  timestampDelta: fc.oneof(
    fc.integer({ min: -1000, max: 1000 }),
    fc.integer({ min: -(2 ** 45), max: 2 ** 45 }),
  ),
  key: fc.option(fc.oneof(text, bytes)),
  value: fc.option(
    fc.oneof(
      text,
      bytes,
      fc.uint8Array({ minLength: 1000, maxLength: 70_000 }).map((a) => Buffer.from(a)),
    ),
  ),
  headers: fc.dictionary(text, fc.oneof(headerValue, fc.array(headerValue, { maxLength: 3 })), {
    maxKeys: 4,
  }),
});

describe('kafkajs record encoder (patches/kafkajs+2.2.4.patch)', () => {
  it('is the patched single-buffer encoder', () => {
    expect(patched.singleBufferEncoder).toBe(true);
  });

  it('writes the bytes of the Kafka v2 record format for any record', () => {
    fc.assert(
      fc.property(arbRecord, (record) => {
        expect(patched(record).buffer.equals(reference(record))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('writes the same bytes for the defaults: no headers, no key, no deltas', () => {
    for (const r of [{ value: Buffer.from('x') }, { key: 'k', value: null }, {}] as RecordFields[]) {
      expect(patched(r).buffer.equals(reference(r))).toBe(true);
    }
  });
});

describe('kafkajs grouping of a send by partition (patched: linear)', () => {
  const group = require('kafkajs/src/producer/groupMessagesPerPartition.js') as (a: {
    topic: string;
    partitionMetadata: unknown[];
    messages: { key: string }[];
    partitioner: (a: { message: { key: string } }) => number;
  }) => Record<string, { key: string }[]>;

  it('keeps every message, in order, on the partition the partitioner chose', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 4 }), { maxLength: 300 }), (keys) => {
        const messages = keys.map((key) => ({ key }));
        const partitionOf = (key: string) => key.length % 3;
        const grouped = group({
          topic: 't',
          partitionMetadata: [{}, {}, {}],
          messages,
          partitioner: ({ message }) => partitionOf(message.key),
        });
        for (const p of [0, 1, 2]) {
          expect(grouped[p] ?? []).toEqual(messages.filter((m) => partitionOf(m.key) === p));
        }
      }),
    );
  });
});
