import { ScriptKeys } from '../../runtime/lua-scripts.js';
import type { StockCommand } from './commands.js';
import { DEFAULT_FORECAST, forecastArgument, type ForecastSettings } from './forecast.js';
import { DEFAULT_WAREHOUSES, warehouseArgument, type WarehouseSettings } from './warehouses.js';
import type { InventoryKeys } from './keys.js';
import type { ScriptLine } from './script-results.js';
import type { SettleKind } from './shard-merge.js';

/** Settles a tentative hold on one shard once every shard of the order answered. */
export interface SettleCommand {
  kind: SettleKind;
  eventId: string;
  orderId: string;
  /** the PLACE's event time */
  at?: number;
}

export interface ShardItem {
  offset: number;
  command: StockCommand | SettleCommand;
  /** this shard's lines of the order (PLACE, order events, CONFIRM, ABORT) */
  lines: readonly ScriptLine[];
  tentative: boolean;
}

export interface ShardSegment {
  topic: string;
  partition: number;
  items: ShardItem[];
  trimUpTo: number;
  /** CONFIRM/ABORT segment: no watermark, idempotent by the order record */
  settle: boolean;
  /** the watermark moves here (the chunk's last offset) */
  upTo: number;
  /** the caller's last applied offset: the script refuses the call if the watermark is below it */
  expectedApplied?: number;
}

/**
 * The keys and arguments of one apply-stock-batch call on one shard: every key the call may
 * touch, declared once and referenced by index from the JSON argument (see the script's header).
 * Pure, so its layout is unit-tested without Redis.
 */
export function applyScriptCall(
  keys: InventoryKeys,
  segments: readonly ShardSegment[],
  now: number,
  eventIdTtlSeconds: number,
  finalOrderTtlSeconds: number,
  forecast: ForecastSettings = DEFAULT_FORECAST,
  warehouses: WarehouseSettings = DEFAULT_WAREHOUSES,
): { keys: string[]; args: (string | number)[] } {
  const scriptKeys = new ScriptKeys();
  const ref = (key: string): number => scriptKeys.ref(key);
  const hz = ref(keys.holds());
  const dz = ref(keys.dirty());
  const pz = ref(keys.dirtyPending());
  const rz = ref(keys.atRisk());
  // event time as whole seconds from now's (the script's unit; a short number, not 13 digits),
  // left out when 0: the script reads absent as now
  const nowSecond = Math.floor(now / 1000);
  const fromNow = (at: number | undefined) =>
    at === undefined ? undefined : Math.floor(at / 1000) - nowSecond;
  const fromNowOrNone = (at: number | undefined) => fromNow(at) || undefined;
  const lineRefs = (lines: readonly ScriptLine[]) =>
    lines.map((l) => [ref(keys.sku(l.sku)), l.quantity, l.sku]);
  // one shape per kind, optional fields undefined (JSON.stringify leaves them out): objects
  // built by spreading optional parts took a slower path through the serializer
  const segs = segments.map(({ topic, partition, items, trimUpTo, settle, upTo, expectedApplied }) => ({
    w: settle ? 0 : ref(keys.watermark(topic, partition)),
    b: ref(keys.outbox(topic, partition)),
    up: settle ? -1 : upTo,
    ex: settle ? undefined : expectedApplied,
    src: `${topic}:${partition}`,
    trim: trimUpTo,
    ev: items.map(({ offset, command: c, lines, tentative }) => {
      switch (c.kind) {
        case 'RECEIVED':
        case 'ADJUSTED':
        case 'COUNTED':
          return {
            o: offset,
            t: c.kind,
            id: c.eventId,
            q: c.quantity,
            sku: c.sku,
            s: ref(keys.sku(c.sku)),
            e: ref(keys.eventIdBucket(c.eventId)),
            w: c.warehouse,
            ad: fromNowOrNone(c.at),
          };
        case 'PLACE':
          return {
            o: offset,
            t: 'PLACE',
            id: c.eventId,
            oid: c.orderId,
            ok: ref(keys.order(c.orderId)),
            l: lineRefs(lines),
            tent: tentative ? 1 : undefined,
            tk: tentative ? ref(keys.tentative(c.orderId)) : undefined,
            ad: fromNowOrNone(c.at),
          };
        default:
          return {
            o: offset,
            t: c.kind,
            id: c.eventId,
            oid: c.orderId,
            ok: ref(keys.order(c.orderId)),
            l: lineRefs(lines),
            tk:
              c.kind === 'CONFIRM' || c.kind === 'ABORT' || c.kind === 'DROP'
                ? ref(keys.tentative(c.orderId))
                : undefined,
            // a CONFIRM without a time counts its demand as of the SKU's last: keep an explicit 0
            ad: c.kind === 'CONFIRM' ? fromNow(c.at) : fromNowOrNone(c.at),
          };
      }
    }),
  }));
  return {
    keys: scriptKeys.keys,
    args: [
      JSON.stringify({
        hz,
        dz,
        pz,
        rz,
        now,
        fx: forecastArgument(forecast),
        wh: warehouseArgument(warehouses),
        segs,
      }),
      eventIdTtlSeconds,
      finalOrderTtlSeconds,
    ],
  };
}
