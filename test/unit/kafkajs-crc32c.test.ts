import fc from 'fast-check';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
// the patched module (patches/kafkajs+2.2.4.patch): slicing-by-8 instead of a byte-at-a-time table
const crc32C = require('kafkajs/src/protocol/recordBatch/crc32C/crc32C.js') as (b: Buffer) => number;

/** The definition, bit by bit: slow, and written independently of the patched tables. */
function reference(buffer: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of buffer) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

describe("kafkajs' CRC32-C (patched)", () => {
  it('gives the standard check value and that of known inputs', () => {
    expect(crc32C(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32C(Buffer.alloc(0))).toBe(0);
    expect(crc32C(Buffer.alloc(32))).toBe(0x8a9136aa);
    expect(crc32C(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
  });

  it('agrees with the bitwise definition on any bytes, lengths around the 8-byte stride included', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const b = Buffer.from(bytes);
        expect(crc32C(b)).toBe(reference(b));
      }),
      { numRuns: 500 },
    );
  });
});
