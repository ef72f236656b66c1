import fc from 'fast-check';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import {
  encodeRecord,
  installFastRecordEncoder,
  KAFKAJS_RECORD_MODULE,
  type EncodedRecord,
  type RecordFields,
} from '../../runtime/kafkajs-record.js';

const require = createRequire(import.meta.url);
const file = require.resolve(KAFKAJS_RECORD_MODULE);

/** kafkajs' own record encoder, loaded past whatever the cache holds. */
function kafkajsEncoder(): (r: RecordFields) => EncodedRecord {
  const saved = require.cache[file];
  delete require.cache[file];
  const original = require(file) as (r: RecordFields) => EncodedRecord;
  if (saved) require.cache[file] = saved;
  else delete require.cache[file];
  return original;
}

const text = fc.string({ unit: 'grapheme', maxLength: 40 });
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

describe('fast kafkajs record encoder', () => {
  const original = kafkajsEncoder();

  it('writes the same bytes as kafkajs 2.2 for any record', () => {
    expect(original).not.toBe(encodeRecord);
    fc.assert(
      fc.property(arbRecord, (record) => {
        expect(encodeRecord(record).buffer.equals(original(record).buffer)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('writes the same bytes for kafkajs defaults: no headers, no key, no deltas', () => {
    for (const r of [{ value: Buffer.from('x') }, { key: 'k', value: null }, {}] as RecordFields[]) {
      expect(encodeRecord(r).buffer.equals(original(r).buffer)).toBe(true);
    }
  });

  it('is swapped in only before kafkajs loaded its own', () => {
    const saved = require.cache[file];
    try {
      delete require.cache[file];
      require(file);
      expect(installFastRecordEncoder()).toBe('too-late');
      delete require.cache[file];
      expect(installFastRecordEncoder()).toBe('installed');
      expect(installFastRecordEncoder()).toBe('installed');
      expect(require(file)).toBe(encodeRecord);
    } finally {
      if (saved) require.cache[file] = saved;
      else delete require.cache[file];
    }
  });
});
