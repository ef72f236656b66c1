import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  completeSkuRecord,
  formatSkuRecord,
  luaSkuRecord,
  parseSkuRecord,
  SKU_RECORD_FIELDS,
  type SkuRecord,
} from '../../processors/inventory/sku-record.js';
import { testRedis } from '../helpers/redis.js';

// The scripts and the Node side read and write one record format from two codecs (Lua's
// cmsgpack and packed-numbers.ts): each must read what the other wrote, byte for byte.

const int = fc.oneof(
  fc.integer({ min: -40, max: 300 }),
  fc.integer({ min: -3_000_000_000, max: 5_000_000_000 }),
  fc.constantFrom(
    0,
    127,
    128,
    255,
    256,
    65_535,
    65_536,
    -32,
    -33,
    -128,
    -129,
    -32_768,
    -32_769,
    2 ** 32,
    -(2 ** 31) - 1,
  ),
);
const record = fc.record(
  Object.fromEntries(SKU_RECORD_FIELDS.map((f) => [f, int])),
) as fc.Arbitrary<SkuRecord>;
// most records keep the short form: the catalogue's defaults and no sales
const shortRecord = fc
  .record({ on: int, rs: int, v: int, th: int, sf: int, cv: int, lv: int })
  .map((r) => completeSkuRecord(r));

const lua = (body: string) => `${luaSkuRecord()}\n${body}`;
const FORMAT = lua(`
local s = cjson.decode(ARGV[1])
return format_sku_record(s)`);
const PARSE = lua(`
local s = parse_sku_record(ARGV[1])
if not s then return false end
return cjson.encode({ s, parse_sku_version(ARGV[1]) })`);

describe('SKU records: the scripts and Node agree (real Redis)', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = testRedis();
  });
  afterAll(async () => {
    await redis.quit();
  });

  const parsedByLua = async (raw: Buffer | string) => {
    const reply = (await redis.eval(PARSE, 0, raw)) as string | null;
    if (reply === null) return null;
    const [s, version] = JSON.parse(reply) as [SkuRecord, number];
    return { s, version };
  };

  it('the scripts write the bytes Node writes, and each reads the other', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(record, shortRecord), async (r) => {
        const fromLua = (await redis.callBuffer('EVAL', FORMAT, 0, JSON.stringify(r))) as Buffer;
        const fromNode = formatSkuRecord(r);
        expect(fromLua.toString('hex')).toBe(fromNode.toString('hex'));
        expect(parseSkuRecord(fromLua)).toEqual(r);
        expect(await parsedByLua(fromNode)).toEqual({ s: r, version: r.v });
      }),
      { numRuns: 300 },
    );
  });

  it('the short form is the packed seven first fields; text records of earlier releases still read', async () => {
    const r = completeSkuRecord({ on: 1000, rs: 3, v: 57, th: 5, sf: 0, cv: 1, lv: 0 });
    expect(formatSkuRecord(r).length).toBeLessThan('1000:3:57:5:0:1:0'.length);
    expect(await parsedByLua('1000:3:57:5:0:1:0')).toEqual({ s: r, version: 57 });
    const full = SKU_RECORD_FIELDS.map((f) => r[f]).join(':');
    expect(await parsedByLua(full)).toEqual({ s: r, version: 57 });
  });

  it('refuse what is not a whole record: cut short, too many or too few numbers, text garbage', async () => {
    const whole = formatSkuRecord(
      completeSkuRecord({ on: 70_000, rs: 2, v: 9, rv: 1234, vt: 1_764_600_000 }),
    );
    const mark = whole.subarray(0, 1);
    const bad: (Buffer | string)[] = [
      whole.subarray(0, whole.length - 1),
      Buffer.concat([whole, Buffer.of(1)]),
      Buffer.concat([mark, Buffer.of(1, 2, 3, 4, 5, 6)]),
      Buffer.concat([mark, Buffer.of(1, 2, 3, 4, 5, 6, 7, 8)]),
      Buffer.concat([mark, Buffer.from('garbage!')]),
      'garbage',
      '1:0:1:0:0:1:x',
    ];
    for (const raw of bad) {
      expect(parseSkuRecord(raw), String(raw)).toBeNull();
      expect(await parsedByLua(raw), String(raw)).toBeNull();
    }
  });
});
