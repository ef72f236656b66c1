/**
 * A faster encoder for the records of kafkajs 2.2's produce requests.
 *
 * kafkajs builds every record from three or more growable encoders (the record and one per
 * header), each a zero-filled 512-byte buffer, writes every varint through a temporary array and
 * sizes the timestamp delta with 64-bit Long arithmetic. Profiling the stock processor showed
 * that encoding as the largest single cost of a processed event. This encoder writes the same
 * bytes (a unit test compares them with kafkajs' own encoder on random records) into one buffer
 * of the exact size.
 *
 * kafkajs requires its record encoder lazily, when it builds its first produce request, so
 * placing this module in the require cache under that file's name before then swaps it in for
 * every producer of the process. Installing is skipped for another kafkajs version (its
 * internals may differ); a process that produced before installing keeps kafkajs' encoder.
 */
import { createRequire, Module } from 'node:module';

type HeaderValue = Buffer | string | null | undefined;

export interface RecordFields {
  offsetDelta?: number;
  timestampDelta?: number;
  key?: Buffer | string | null;
  value?: Buffer | string | null;
  headers?: Record<string, HeaderValue | HeaderValue[]>;
}

/** What kafkajs' record batch reads of an encoder: the bytes written (`buffer`) and `buf`. */
export interface EncodedRecord {
  buf: Buffer;
  buffer: Buffer;
}

/** Zigzag as a plain number, exact for every safe integer (32- and 64-bit varints alike). */
function zigzag(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

function sizeOfUVarInt(u: number): number {
  let bytes = 1;
  while (u >= 128) {
    bytes += 1;
    u = Math.floor(u / 128);
  }
  return bytes;
}

function writeUVarInt(buf: Buffer, offset: number, u: number): number {
  while (u >= 128) {
    buf[offset++] = (u % 128) | 0x80;
    u = Math.floor(u / 128);
  }
  buf[offset++] = u;
  return offset;
}

/** A key, value or header value as kafkajs writes it: bytes as they are, anything else as text. */
function bytesOf(value: unknown): Buffer | string | null {
  if (value == null) return null;
  return Buffer.isBuffer(value) ? value : String(value);
}

function byteLengthOf(b: Buffer | string): number {
  return typeof b === 'string' ? Buffer.byteLength(b, 'utf8') : b.length;
}

function sizeOfBytes(b: Buffer | string | null, length: number): number {
  return b === null ? 1 : sizeOfUVarInt(zigzag(length)) + length;
}

function writeBytes(buf: Buffer, offset: number, b: Buffer | string | null, length: number): number {
  if (b === null) return writeUVarInt(buf, offset, zigzag(-1));
  offset = writeUVarInt(buf, offset, zigzag(length));
  if (typeof b === 'string') buf.write(b, offset, length, 'utf8');
  else b.copy(buf, offset);
  return offset + length;
}

let recordsEncoded = 0;

/** How many records this encoder wrote in this process (0 means kafkajs' own encoder ran). */
export function fastRecordsEncoded(): number {
  return recordsEncoded;
}

export function encodeRecord({
  offsetDelta = 0,
  timestampDelta = 0,
  key,
  value,
  headers = {},
}: RecordFields): EncodedRecord {
  const k = bytesOf(key);
  const v = bytesOf(value);
  const kLen = k === null ? 0 : byteLengthOf(k);
  const vLen = v === null ? 0 : byteLengthOf(v);
  const hs: { name: string; nameLen: number; value: Buffer | string | null; valueLen: number }[] = [];
  for (const name of Object.keys(headers)) {
    const raw = headers[name];
    for (const one of Array.isArray(raw) ? raw : [raw]) {
      const hv = bytesOf(one);
      hs.push({
        name,
        nameLen: Buffer.byteLength(name, 'utf8'),
        value: hv,
        valueLen: hv === null ? 0 : byteLengthOf(hv),
      });
    }
  }
  let body =
    1 + // attributes
    sizeOfUVarInt(zigzag(timestampDelta)) +
    sizeOfUVarInt(zigzag(offsetDelta)) +
    sizeOfBytes(k, kLen) +
    sizeOfBytes(v, vLen) +
    sizeOfUVarInt(zigzag(hs.length));
  for (const h of hs) body += sizeOfUVarInt(zigzag(h.nameLen)) + h.nameLen + sizeOfBytes(h.value, h.valueLen);

  const buf = Buffer.allocUnsafe(sizeOfUVarInt(zigzag(body)) + body);
  let o = writeUVarInt(buf, 0, zigzag(body));
  buf[o++] = 0;
  o = writeUVarInt(buf, o, zigzag(timestampDelta));
  o = writeUVarInt(buf, o, zigzag(offsetDelta));
  o = writeBytes(buf, o, k, kLen);
  o = writeBytes(buf, o, v, vLen);
  o = writeUVarInt(buf, o, zigzag(hs.length));
  for (const h of hs) {
    o = writeBytes(buf, o, h.name, h.nameLen);
    o = writeBytes(buf, o, h.value, h.valueLen);
  }
  recordsEncoded += 1;
  return { buf, buffer: buf };
}

const require = createRequire(import.meta.url);
export const KAFKAJS_RECORD_MODULE = 'kafkajs/src/protocol/recordBatch/record/v0/index.js';

export type InstallOutcome = 'installed' | 'unsupported-version' | 'too-late';

/** Swaps this encoder in for kafkajs' own; idempotent. */
export function installFastRecordEncoder(): InstallOutcome {
  const { version } = require('kafkajs/package.json') as { version: string };
  if (!version.startsWith('2.2.')) return 'unsupported-version';
  const file = require.resolve(KAFKAJS_RECORD_MODULE);
  const cached = require.cache[file];
  if (cached) return cached.exports === encodeRecord ? 'installed' : 'too-late';
  const module = new Module(file);
  module.filename = file;
  module.loaded = true;
  module.exports = encodeRecord;
  require.cache[file] = module;
  return 'installed';
}
