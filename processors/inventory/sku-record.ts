/**
 * How a SKU's state is stored: one field of a bucket hash, "on:rs:v:th:sf:cv:lv" in whole
 * numbers. Many SKUs share a bucket, so Redis keeps each bucket as a compact listpack: about 30
 * bytes per SKU at a million SKUs, where a key and hash per SKU took about 200. The field order
 * is defined here once; the Lua parser and formatter are generated from it.
 */
export const SKU_RECORD_FIELDS = ['on', 'rs', 'v', 'th', 'sf', 'cv', 'lv'] as const;

export type SkuRecord = Record<(typeof SKU_RECORD_FIELDS)[number], number>;

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

export function formatSkuRecord(r: SkuRecord): string {
  return SKU_RECORD_FIELDS.map((f) => String(Math.trunc(r[f]))).join(':');
}

const RECORD = new RegExp(`^${SKU_RECORD_FIELDS.map(() => '(-?\\d+)').join(':')}$`);

/** The record's numbers, or null when it does not parse (a corrupt record). */
export function parseSkuRecord(raw: string): SkuRecord | null {
  const m = RECORD.exec(raw);
  if (!m) return null;
  const r = {} as SkuRecord;
  SKU_RECORD_FIELDS.forEach((f, i) => {
    r[f] = Number(m[i + 1]);
  });
  return r;
}

/**
 * Lua: `parse_sku_record(raw)` -> table or nil, `parse_sku_version(raw)` -> the version or nil
 * (the same check of the whole record, without building the table: what an acknowledgement
 * needs) and `format_sku_record(s)`.
 */
export function luaSkuRecord(): string {
  const n = SKU_RECORD_FIELDS.length;
  const vars = SKU_RECORD_FIELDS.map((f) => `f_${f}`);
  const pattern = `^${Array.from({ length: n }, () => '(-?%d+)').join(':')}$`;
  // '%-': a bare '-' after ':' would make the ':' optional (Lua's lazy repetition)
  const versionPattern = `^${SKU_RECORD_FIELDS.map((f) => (f === 'v' ? '(%-?%d+)' : '%-?%d+')).join(':')}$`;
  return [
    `local SKU_RECORD_PATTERN = '${pattern}'`,
    `local SKU_VERSION_PATTERN = '${versionPattern}'`,
    'local function parse_sku_version(raw)',
    '  local v = string.match(raw, SKU_VERSION_PATTERN)',
    '  return v and tonumber(v)',
    'end',
    `local SKU_RECORD_FORMAT = '${Array.from({ length: n }, () => '%d').join(':')}'`,
    'local function parse_sku_record(raw)',
    `  local ${vars.join(', ')} = string.match(raw, SKU_RECORD_PATTERN)`,
    `  if not ${vars[0]} then return nil end`,
    `  return { ${SKU_RECORD_FIELDS.map((f, i) => `${f} = tonumber(${vars[i]})`).join(', ')} }`,
    'end',
    'local function format_sku_record(s)',
    `  return string.format(SKU_RECORD_FORMAT, ${SKU_RECORD_FIELDS.map((f) => `s.${f} or 0`).join(', ')})`,
    'end',
  ].join('\n');
}
