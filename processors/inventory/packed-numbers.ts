/**
 * A sequence of numbers in MessagePack, as Redis' Lua `cmsgpack.pack(a, b, ...)` writes it and
 * `cmsgpack.unpack_limit` reads it: each number on its own (no array header), a whole number
 * in the smallest integer form that holds it, any other as a 64-bit float. Decoding in the
 * script is one C call with no text to scan and no `tonumber`, which is why SKU records use it.
 */

/** The numbers, packed the way cmsgpack packs Lua numbers. */
export function packNumbers(values: readonly number[]): Buffer {
  const out = Buffer.alloc(values.length * 9);
  let at = 0;
  for (const n of values) {
    if (!Number.isSafeInteger(n)) {
      out[at] = 0xcb;
      out.writeDoubleBE(n, at + 1);
      at += 9;
    } else if (n >= 0) {
      if (n <= 0x7f) out[at++] = n;
      else if (n <= 0xff) {
        out[at] = 0xcc;
        out.writeUInt8(n, at + 1);
        at += 2;
      } else if (n <= 0xffff) {
        out[at] = 0xcd;
        out.writeUInt16BE(n, at + 1);
        at += 3;
      } else if (n <= 0xffffffff) {
        out[at] = 0xce;
        out.writeUInt32BE(n, at + 1);
        at += 5;
      } else {
        out[at] = 0xcf;
        out.writeBigUInt64BE(BigInt(n), at + 1);
        at += 9;
      }
    } else if (n >= -32) {
      out.writeInt8(n, at++);
    } else if (n >= -0x80) {
      out[at] = 0xd0;
      out.writeInt8(n, at + 1);
      at += 2;
    } else if (n >= -0x8000) {
      out[at] = 0xd1;
      out.writeInt16BE(n, at + 1);
      at += 3;
    } else if (n >= -0x80000000) {
      out[at] = 0xd2;
      out.writeInt32BE(n, at + 1);
      at += 5;
    } else {
      out[at] = 0xd3;
      out.writeBigInt64BE(BigInt(n), at + 1);
      at += 9;
    }
  }
  return out.subarray(0, at);
}

/**
 * The numbers from `start` to `end`, or null when the bytes are not a sequence of MessagePack
 * numbers ending exactly at `end`. `values`, when given, is emptied and filled (a caller decoding
 * many records reuses one array). Reads bytes by hand: the changelog decodes a
 * record per SKU changed, and Buffer's read methods cost several times more.
 */
export function unpackNumbers(
  buf: Uint8Array,
  start = 0,
  end = buf.length,
  values: number[] = [],
): number[] | null {
  values.length = 0;
  let at = start;
  while (at < end) {
    const b = buf[at] as number;
    if (b <= 0x7f) {
      values.push(b);
      at += 1;
      continue;
    }
    if (b >= 0xe0) {
      values.push(b - 0x100);
      at += 1;
      continue;
    }
    const size = payloadSize(b);
    const p = at + 1;
    if (size === 0 || p + size > end) return null;
    const u8 = buf[p] as number;
    const u16 = (u8 << 8) | (buf[p + 1] as number);
    const u32 = u16 * 0x10000 + (((buf[p + 2] as number) << 8) | (buf[p + 3] as number));
    switch (b) {
      case 0xcc:
        values.push(u8);
        break;
      case 0xcd:
        values.push(u16);
        break;
      case 0xce:
        values.push(u32);
        break;
      case 0xd0:
        values.push(u8 >= 0x80 ? u8 - 0x100 : u8);
        break;
      case 0xd1:
        values.push(u16 >= 0x8000 ? u16 - 0x10000 : u16);
        break;
      case 0xd2:
        values.push(u32 >= 0x80000000 ? u32 - 0x100000000 : u32);
        break;
      default: {
        // 64-bit integers and floats: rare (past 32 bits), read the slow way
        const view = new DataView(buf.buffer, buf.byteOffset + p, size);
        if (b === 0xcf) values.push(Number(view.getBigUint64(0)));
        else if (b === 0xd3) values.push(Number(view.getBigInt64(0)));
        else if (b === 0xca) values.push(view.getFloat32(0));
        else values.push(view.getFloat64(0));
      }
    }
    at = p + size;
  }
  return values;
}

/** Payload bytes after the type byte of the numeric MessagePack types; 0 for any other type. */
function payloadSize(type: number): number {
  switch (type) {
    case 0xcc:
    case 0xd0:
      return 1;
    case 0xcd:
    case 0xd1:
      return 2;
    case 0xca:
    case 0xce:
    case 0xd2:
      return 4;
    case 0xcb:
    case 0xcf:
    case 0xd3:
      return 8;
    default:
      return 0;
  }
}

/**
 * Where the strings of a MessagePack array of strings (as cmsgpack packs a Lua list of strings)
 * lie in `buf`: flat [start, end, start, end, ...], or null when it is not one.
 */
export function stringRanges(buf: Uint8Array): number[] | null {
  if (buf.length === 0) return null;
  const b = buf[0] as number;
  let count: number;
  let at: number;
  if (b >= 0x90 && b <= 0x9f) {
    count = b - 0x90;
    at = 1;
  } else if (b === 0xdc && buf.length >= 3) {
    count = ((buf[1] as number) << 8) | (buf[2] as number);
    at = 3;
  } else if (b === 0xdd && buf.length >= 5) {
    count =
      (buf[1] as number) * 0x1000000 +
      (((buf[2] as number) << 16) | ((buf[3] as number) << 8) | (buf[4] as number));
    at = 5;
  } else return null;
  const ranges: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = buf[at] as number;
    let length: number;
    if (t >= 0xa0 && t <= 0xbf) {
      length = t - 0xa0;
      at += 1;
    } else if (t === 0xd9) {
      length = buf[at + 1] as number;
      at += 2;
    } else if (t === 0xda) {
      length = ((buf[at + 1] as number) << 8) | (buf[at + 2] as number);
      at += 3;
    } else if (t === 0xdb) {
      length =
        (buf[at + 1] as number) * 0x1000000 +
        (((buf[at + 2] as number) << 16) | ((buf[at + 3] as number) << 8) | (buf[at + 4] as number));
      at += 5;
    } else return null;
    if (at + length > buf.length) return null;
    ranges.push(at, at + length);
    at += length;
  }
  return at === buf.length ? ranges : null;
}
