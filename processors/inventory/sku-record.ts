import { readFileSync } from 'node:fs';
import { packNumbers, unpackNumbers } from './packed-numbers.js';

/**
 * How a SKU's state is stored: one field of a bucket hash, "on:rs:v:th:sf:cv:lv:lt:oc:hc:rv:sv:vt:fc:ro:rq:rt"
 * in whole numbers. Many SKUs share a bucket, so Redis keeps each bucket as a compact listpack:
 * about 60 bytes per SKU at a million SKUs, where a key and hash per SKU took about 200. The
 * field order is defined here once; the Lua parser and formatter are generated from it.
 *
 * on, rs      units on hand, reserved          v   version (one per change of on or rs)
 * th, sf      low-stock threshold, safety stock from the catalogue; cv its version (0 = none)
 * lv          alert level (stock-level.lua)
 * lt, oc, hc  lead time (hours), order cost (cents), holding cost per unit and day (millionths)
 * rv, sv      units reserved / sold per hour, exponentially weighted, in thousandths
 * vt          when rv and sv were last brought forward (seconds since the epoch, event time)
 * fc          forecast flags: 1 a stock-out is predicted, 2 the SKU is at or below its reorder point
 * ro, rq, rt  the reorder point and quantity last published on `replenishment`, and when (seconds)
 */
export const SKU_RECORD_FIELDS = [
  'on',
  'rs',
  'v',
  'th',
  'sf',
  'cv',
  'lv',
  'lt',
  'oc',
  'hc',
  'rv',
  'sv',
  'vt',
  'fc',
  'ro',
  'rq',
  'rt',
] as const;

export type SkuRecordField = (typeof SKU_RECORD_FIELDS)[number];

/** Bits of the record's `fc` field. */
export const SKU_FLAGS = {
  /** a stock-out is predicted (STOCKOUT_PREDICTED was raised, not yet cleared) */
  PREDICTED: 1,
  /** available is at or below the reorder point last published */
  REORDER_DUE: 2,
  /** the SKU is stocked outside the default warehouse: its parts are in field '@<sku>' */
  SPLIT: 4,
} as const;
export type SkuRecord = Record<SkuRecordField, number>;

/** Records written before forecasting had only these; they still parse (the rest from LEGACY_DEFAULTS). */
const LEGACY_FIELD_COUNT = 7;

interface AvroField {
  name: string;
  default?: unknown;
}

/**
 * The catalogue's defaults for lead time and costs, as the ProductUpdate schema declares them
 * (its Avro defaults are the documented ones): what a SKU has until its reference data says
 * otherwise, and what a record written before these fields existed is read with.
 */
export const CATALOGUE_DEFAULTS = (() => {
  const schema = JSON.parse(
    readFileSync(new URL('../../schemas/avro/product-update.avsc', import.meta.url), 'utf8'),
  ) as { fields: AvroField[] };
  const num = (name: string): number => {
    const v = schema.fields.find((f) => f.name === name)?.default;
    if (typeof v !== 'number') throw new Error(`product-update.avsc: ${name} has no numeric default`);
    return v;
  };
  return {
    leadTimeHours: num('leadTimeHours'),
    orderCost: num('orderCost'),
    holdingCostPerUnitDay: num('holdingCostPerUnitDay'),
  };
})();

/** Order cost in the record's unit (cents). */
export const orderCostUnits = (cost: number): number => Math.round(cost * 100);
/** Holding cost in the record's unit (millionths). */
export const holdingCostUnits = (cost: number): number => Math.round(cost * 1_000_000);

const LEGACY_DEFAULTS: Partial<SkuRecord> = {
  lt: CATALOGUE_DEFAULTS.leadTimeHours,
  oc: orderCostUnits(CATALOGUE_DEFAULTS.orderCost),
  hc: holdingCostUnits(CATALOGUE_DEFAULTS.holdingCostPerUnitDay),
};

/**
 * SKU buckets per shard. Part of the data's layout (recorded with the shard count). At the
 * default `hash-max-listpack-entries` of 128 a bucket stays compact up to about 2 million SKUs
 * per shard; past that Redis still serves it, with more memory per SKU (use more shards).
 */
export const SKU_BUCKETS = 16_384;

/**
 * Buckets of stock event ids per shard (field = event id, value = the minute it was applied):
 * compact up to about 8 million ids remembered at once per shard (the de-duplication window's
 * stock events); past that, more memory per id.
 */
export const EVENT_ID_BUCKETS = 65_536;

/** The layout these records belong to, as recorded in Redis beside the shard count. */
export const STOCK_LAYOUT = `sku-buckets-${SKU_BUCKETS}/event-id-buckets-${EVENT_ID_BUCKETS}`;

/** FNV-1a, mixed, so that the buckets of one shard (FNV-1a modulo the shard count) are all used. */
export function bucketOf(text: string, count: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  h = Math.imul(h ^ (h >>> 12), 0x297a2d39);
  return ((h ^ (h >>> 15)) >>> 0) % count;
}

export function skuBucket(sku: string): number {
  return bucketOf(sku, SKU_BUCKETS);
}

export function eventIdBucket(eventId: string): number {
  return bucketOf(eventId, EVENT_ID_BUCKETS);
}

/**
 * The first byte of a packed record. MessagePack never uses it, and no UTF-8 text starts with
 * it, so a packed record cannot be mistaken for one of the text records earlier releases wrote
 * (nor text garbage for a packed record).
 */
export const PACKED_RECORD_MARK = 0xc1;

/**
 * The record as the scripts write it: the mark, then its numbers packed (packed-numbers.ts);
 * the first seven alone while the rest hold their defaults (the catalogue's lead time and
 * costs, no sales), which most of a catalogue does.
 */
export function formatSkuRecord(r: SkuRecord): Buffer {
  const short = SKU_RECORD_FIELDS.slice(LEGACY_FIELD_COUNT).every((f) => r[f] === (LEGACY_DEFAULTS[f] ?? 0));
  const fields = SKU_RECORD_FIELDS.slice(0, short ? LEGACY_FIELD_COUNT : SKU_RECORD_FIELDS.length);
  return Buffer.concat([Buffer.of(PACKED_RECORD_MARK), packNumbers(fields.map((f) => Math.trunc(r[f])))]);
}

/** A whole record from some of its fields: the catalogue's defaults for lead time and costs, 0 for the rest. */
export function completeSkuRecord(partial: Partial<SkuRecord>): SkuRecord {
  const r = {} as SkuRecord;
  for (const f of SKU_RECORD_FIELDS) r[f] = partial[f] ?? LEGACY_DEFAULTS[f] ?? 0;
  return r;
}

const recordPattern = (n: number) => new RegExp(`^${Array.from({ length: n }, () => '(-?\\d+)').join(':')}$`);
const RECORD = recordPattern(SKU_RECORD_FIELDS.length);
const LEGACY_RECORD = recordPattern(LEGACY_FIELD_COUNT);

/** The fields a record lacks (the short form) read as their defaults. */
const FIELD_DEFAULTS = SKU_RECORD_FIELDS.map((f) => LEGACY_DEFAULTS[f] ?? 0);
function recordOf(values: readonly (number | undefined)[]): SkuRecord {
  // one object shape for every record, filled in the fields' order (the changelog reads one
  // per SKU changed: kept cheap)
  const r = {} as SkuRecord;
  for (let i = 0; i < SKU_RECORD_FIELDS.length; i++) {
    r[SKU_RECORD_FIELDS[i] as SkuRecordField] = values[i] ?? (FIELD_DEFAULTS[i] as number);
  }
  return r;
}

/**
 * The record's numbers, or null when it does not parse (a corrupt record). Read it from Redis
 * as bytes (a packed record is not text); the text form is what releases before packing wrote,
 * "on:rs:v:th:sf:cv:lv[:lt:oc:hc:rv:sv:vt:fc:ro:rq:rt]".
 */
export function parseSkuRecord(raw: Buffer | string): SkuRecord | null {
  if (typeof raw !== 'string' && raw[0] === PACKED_RECORD_MARK) {
    const values = unpackNumbers(raw, 1);
    if (!values || (values.length !== LEGACY_FIELD_COUNT && values.length !== SKU_RECORD_FIELDS.length))
      return null;
    return recordOf(values);
  }
  const text = typeof raw === 'string' ? raw : raw.toString('latin1');
  const m = RECORD.exec(text) ?? LEGACY_RECORD.exec(text);
  if (!m) return null;
  return recordOf(m.slice(1).map((v) => (v === undefined ? undefined : Number(v))));
}

/** Each field's position among a record's numbers. */
export const FIELD_INDEX = Object.fromEntries(SKU_RECORD_FIELDS.map((f, i) => [f, i])) as Record<
  SkuRecordField,
  number
>;

/**
 * The numbers of a packed record lying in buf[start, end) (a script's reply carries several in
 * one buffer), all of them in field order (the short form's defaults filled in), or null. One
 * array serves every call: read it before the next (the changelog decodes one per SKU changed).
 */
export function packedSkuNumbers(buf: Uint8Array, start: number, end: number): readonly number[] | null {
  if (end <= start || buf[start] !== PACKED_RECORD_MARK) return null;
  const values = unpackNumbers(buf, start + 1, end, scratch);
  if (!values) return null;
  if (values.length === LEGACY_FIELD_COUNT) {
    for (let i = LEGACY_FIELD_COUNT; i < SKU_RECORD_FIELDS.length; i++)
      values.push(FIELD_DEFAULTS[i] as number);
  } else if (values.length !== SKU_RECORD_FIELDS.length) return null;
  return values;
}
const scratch: number[] = [];

/** A record as an error message may quote it: text as it is, a packed one in hex. */
export function printableSkuRecord(raw: Buffer | string): string {
  if (typeof raw === 'string') return raw;
  return raw[0] === PACKED_RECORD_MARK ? `packed ${raw.toString('hex')}` : raw.toString('latin1');
}

/**
 * Lua: `parse_sku_record(raw)` -> table or nil, `parse_sku_version(raw)` -> the version or nil
 * (the same check of the whole record, without building the table: what an acknowledgement
 * needs) and `format_sku_record(s)`, which writes the packed form. Text records of earlier
 * releases still parse (the shorter layout with the catalogue's defaults for the fields it
 * lacks) and are written back packed.
 */
export function luaSkuRecord(): string {
  const n = SKU_RECORD_FIELDS.length;
  const vars = SKU_RECORD_FIELDS.map((f) => `f_${f}`);
  const list = (names: readonly string[]) => names.join(', ');
  const pattern = (count: number) => `^${Array.from({ length: count }, () => '(-?%d+)').join(':')}$`;
  // '%-': a bare '-' after ':' would make the ':' optional (Lua's lazy repetition)
  const versionPattern = (count: number) =>
    `^${SKU_RECORD_FIELDS.slice(0, count)
      .map((f) => (f === 'v' ? '(%-?%d+)' : '%-?%d+'))
      .join(':')}$`;
  const legacyVars = vars.slice(0, LEGACY_FIELD_COUNT);
  const defaulted = (f: SkuRecordField, i: number, read: (v: string) => string) =>
    i < LEGACY_FIELD_COUNT ? read(vars[i] as string) : `${LEGACY_DEFAULTS[f] ?? 0}`;
  const table = (read: (v: string) => string) =>
    `{ ${SKU_RECORD_FIELDS.map((f, i) => `${f} = ${read(vars[i] as string)}`).join(', ')} }`;
  const shortTable = (read: (v: string) => string) =>
    `{ ${SKU_RECORD_FIELDS.map((f, i) => `${f} = ${defaulted(f, i, read)}`).join(', ')} }`;
  const asIs = (v: string) => v;
  const asNumber = (v: string) => `tonumber(${v})`;
  const first = vars[0] as string;
  const lastShort = vars[LEGACY_FIELD_COUNT - 1] as string;
  const firstLong = vars[LEGACY_FIELD_COUNT] as string;
  const last = vars[n - 1] as string;
  // a packed record holds exactly n numbers, or exactly the short form's
  const packedWhole = `(${last} ~= nil or (${lastShort} ~= nil and ${firstLong} == nil))`;
  return [
    `local ${Object.keys(SKU_FLAGS).join(', ')} = ${Object.values(SKU_FLAGS).join(', ')}`,
    `local SKU_PACKED_MARK = ${PACKED_RECORD_MARK}`,
    `local SKU_PACKED_PREFIX = string.char(${PACKED_RECORD_MARK})`,
    'local sku_unpack, sku_pack, sku_byte = cmsgpack.unpack_limit, cmsgpack.pack, string.byte',
    `local SKU_RECORD_PATTERN = '${pattern(n)}'`,
    `local SKU_LEGACY_PATTERN = '${pattern(LEGACY_FIELD_COUNT)}'`,
    `local SKU_VERSION_PATTERN = '${versionPattern(n)}'`,
    `local SKU_LEGACY_VERSION_PATTERN = '${versionPattern(LEGACY_FIELD_COUNT)}'`,
    '-- unpack_limit returns where it stopped (-1: at the end) and then the numbers; pcall: bytes',
    '-- cut short are a corrupt record like any other, not a different error',
    'local function parse_sku_version(raw)',
    '  if sku_byte(raw, 1) == SKU_PACKED_MARK then',
    `    local ok, rest, ${list(vars)} = pcall(sku_unpack, raw, ${n}, 1)`,
    `    if ok and rest == -1 and ${packedWhole} then return f_v end`,
    '    return nil',
    '  end',
    '  local v = string.match(raw, SKU_VERSION_PATTERN) or string.match(raw, SKU_LEGACY_VERSION_PATTERN)',
    '  return v and tonumber(v)',
    'end',
    'local function parse_sku_record(raw)',
    '  if sku_byte(raw, 1) == SKU_PACKED_MARK then',
    `    local ok, rest, ${list(vars)} = pcall(sku_unpack, raw, ${n}, 1)`,
    '    if not ok or rest ~= -1 then return nil end',
    `    if ${last} ~= nil then return ${table(asIs)} end`,
    `    if ${lastShort} ~= nil and ${firstLong} == nil then return ${shortTable(asIs)} end`,
    '    return nil',
    '  end',
    `  local ${list(vars)} = string.match(raw, SKU_RECORD_PATTERN)`,
    `  if ${first} then return ${table(asNumber)} end`,
    `  ${list(legacyVars)} = string.match(raw, SKU_LEGACY_PATTERN)`,
    `  if not ${first} then return nil end`,
    `  return ${shortTable(asNumber)}`,
    'end',
    '-- a SKU with the default lead time and costs that never sold keeps the short form',
    'local function format_sku_record(s)',
    `  if ${SKU_RECORD_FIELDS.slice(LEGACY_FIELD_COUNT)
      .map((f) => `s.${f} == ${LEGACY_DEFAULTS[f] ?? 0}`)
      .join(' and ')} then`,
    `    return SKU_PACKED_PREFIX .. sku_pack(${SKU_RECORD_FIELDS.slice(0, LEGACY_FIELD_COUNT)
      .map((f) => `s.${f} or 0`)
      .join(', ')})`,
    '  end',
    `  return SKU_PACKED_PREFIX .. sku_pack(${SKU_RECORD_FIELDS.map((f) => `s.${f} or 0`).join(', ')})`,
    'end',
  ].join('\n');
}
