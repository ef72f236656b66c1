import fc from 'fast-check';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);

interface Tap {
  buf: Buffer;
  pos: number;
  writeString(s: string): void;
  _writeStringGeneral(s: string): void;
  readString(): string;
}
type TapClass = new (buf: Buffer, pos?: number) => Tap;

// avsc's Tap: writeString is patched (patches/avsc+5.7.9.patch) with a fast path for short ASCII
// text; _writeStringGeneral is upstream's writeString as it was, the reference here
const { Tap } = require('avsc/lib/utils.js') as { Tap: TapClass };

/** What a tap of `size` bytes holds after writing `s` at `at`, and where its position went. */
function written(size: number, at: number, s: string, general: boolean): { bytes: Buffer; pos: number } {
  const tap = new Tap(Buffer.alloc(size, 0xee), at);
  if (general) tap._writeStringGeneral(s);
  else tap.writeString(s);
  // past the end the tap only moves its position (avsc grows the buffer and writes again)
  return { bytes: tap.pos <= size ? tap.buf.subarray(0, tap.pos) : Buffer.alloc(0), pos: tap.pos };
}

const anyText = fc.oneof(
  fc.string({ maxLength: 100 }),
  fc.string({ unit: 'grapheme', maxLength: 70 }),
  fc.string({ unit: 'binary', maxLength: 70 }),
);

describe('avsc string writes (patches/avsc+5.7.9.patch)', () => {
  it('is the patched tap', () => {
    expect(typeof Tap.prototype._writeStringGeneral).toBe('function');
  });

  it('writes the bytes and moves the position as upstream does, for any text and buffer', () => {
    fc.assert(
      fc.property(
        anyText,
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 0, max: 8 }),
        (s, size, at) => {
          const start = Math.min(at, size);
          expect(written(size, start, s, false)).toEqual(written(size, start, s, true));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('writes the Avro encoding: zig-zag varint byte length, then UTF-8', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 100 }), fc.string({ unit: 'grapheme', maxLength: 40 })),
        (s) => {
          const utf8 = Buffer.from(s, 'utf8');
          const tap = new Tap(Buffer.alloc(utf8.length + 10));
          tap.writeString(s);
          const n = utf8.length * 2;
          const prefix = n < 128 ? [n] : [(n & 0x7f) | 0x80, n >> 7];
          expect(tap.buf.subarray(0, tap.pos)).toEqual(Buffer.concat([Buffer.from(prefix), utf8]));
          const back = new Tap(tap.buf);
          expect(back.readString()).toBe(s);
        },
      ),
    );
  });

  it('takes the general path at 64 characters and at the first non-ASCII one', () => {
    for (const s of ['a'.repeat(63), 'a'.repeat(64), 'a'.repeat(65), 'abcé', 'é', '\u{1f600}x']) {
      expect(written(200, 3, s, false)).toEqual(written(200, 3, s, true));
    }
  });
});
