/** What the stock script reports per event, as the TypeScript side reads it. */

import { VELOCITY_UNIT } from './forecast.js';
import { stringRanges } from './packed-numbers.js';
import { FIELD_INDEX, packedSkuNumbers, SKU_FLAGS } from './sku-record.js';

export interface ScriptLine {
  sku: string;
  quantity: number;
}

export interface HeldUnits {
  sku: string;
  warehouseId: string;
  quantity: number;
}

export type ResultOutcome = 'RESERVED' | 'REJECTED' | 'RELEASED' | 'COMMITTED';

/** One output the script derived from an applied event. */
export type ScriptOutput =
  | {
      k: 'result';
      outcome: ResultOutcome;
      oid: string;
      lines: ScriptLine[];
      shortages: { sku: string; requested: number; available: number }[];
      /** why an unusual result happened: SHIPPED_WITHOUT_HOLD, RESTOCKED */
      reason?: string;
      /** the id of an earlier result for the same event that this one replaces (after lost writes) */
      corrects?: string;
      /** units held outside the default warehouse; lines not named here are all in the default one */
      allocations?: HeldUnits[];
    }
  | {
      k: 'alert';
      sku: string;
      kind: string;
      on: number;
      rs: number;
      th: number;
      /** STOCKOUT_PREDICTED: when (ms) */
      at?: number;
      /** STOCKOUT_*: the velocity (units/h) and lead time (h) behind it */
      vel?: number;
      lt?: number;
    }
  | {
      k: 'repl';
      sku: string;
      /** reorder point, suggested quantity, available at or below the reorder point */
      ro: number;
      rq: number;
      due: boolean;
      on: number;
      rs: number;
      sf: number;
      vel: number;
      lt: number;
      /** order cost in cents, holding cost per unit-day in millionths (as stored) */
      oc: number;
      hc: number;
    };

export type EventStatus = 'ok' | 'dup' | 'skip' | 'dlq';

export interface EventResult {
  offset: number;
  eventId?: string;
  status: EventStatus;
  why?: string;
  outputs: ScriptOutput[];
  /** from a CONFIRM/ABORT call (sharded stock): merged into the order's event by the store */
  settle?: boolean;
}

export interface RawResult {
  o: number;
  id?: string;
  st: EventStatus;
  why?: string;
  out: unknown;
  ph?: number;
}

// cjson encodes an empty Lua table as {}, so lists may arrive as objects
export function list<T>(v: unknown): T[] {
  return Array.isArray(v) ? (v as T[]) : [];
}

export function toEventResult(raw: RawResult): EventResult {
  const outputs = list<Record<string, unknown>>(raw.out).map((o): ScriptOutput => {
    if (o.k === 'result') {
      // the lines as the order record holds them (ls); results an earlier release stored in
      // the outbox, replayed after an upgrade, list them (l) and their warehouses (al)
      const encoded = typeof o.ls === 'string' ? o.ls : null;
      const result: ScriptOutput = {
        k: 'result',
        outcome: o.outcome as ResultOutcome,
        oid: o.oid as string,
        lines:
          encoded !== null
            ? parseLines(encoded)
            : list<[number, number, string]>(o.l).map(([, quantity, sku]) => ({ sku, quantity })),
        shortages: list<{ sku: string; requested: number; available: number }>(o.sh),
      };
      if (typeof o.r === 'string') result.reason = o.r;
      const held =
        encoded !== null
          ? namedHolds(encoded)
          : list<[string, string, number]>(o.al).map(([sku, warehouseId, quantity]) => ({
              sku,
              warehouseId,
              quantity,
            }));
      if (held.length) result.allocations = held;
      return result;
    }
    return o as unknown as ScriptOutput;
  });
  const r: EventResult = { offset: raw.o, status: raw.st, outputs };
  if (raw.id) r.eventId = raw.id;
  if (raw.why) r.why = raw.why;
  if (raw.ph === 2) r.settle = true;
  return r;
}

/** An order record's lines: "sku:q,sku:q", a line held outside the default warehouse "sku:q@<warehouse>=<n>+...". */
export function parseLines(encoded: string): ScriptLine[] {
  if (!encoded) return [];
  return encoded.split(',').map((part) => {
    const at = part.indexOf('@');
    const line = at >= 0 ? part.slice(0, at) : part;
    const i = line.lastIndexOf(':');
    return { sku: line.slice(0, i), quantity: Number(line.slice(i + 1)) };
  });
}

/** Where an order record holds its lines: [sku, warehouse, units], the default warehouse for plain lines. */
export function parseHeldUnits(encoded: string, defaultWarehouse: string): HeldUnits[] {
  if (!encoded) return [];
  return encoded.split(',').flatMap((part) => {
    const named = holdsOfPart(part);
    if (named) return named;
    const i = part.lastIndexOf(':');
    return [{ sku: part.slice(0, i), warehouseId: defaultWarehouse, quantity: Number(part.slice(i + 1)) }];
  });
}

/** The units of an order record's lines that name their warehouses (most name none). */
export function namedHolds(encoded: string): HeldUnits[] {
  if (!encoded.includes('@')) return [];
  return encoded.split(',').flatMap((part) => holdsOfPart(part) ?? []);
}

/** "sku:q@<warehouse>=<n>+..." as held units; null for a plain "sku:q" (the default warehouse). */
function holdsOfPart(part: string): HeldUnits[] | null {
  const at = part.indexOf('@');
  if (at < 0) return null;
  const line = part.slice(0, at);
  const sku = line.slice(0, line.lastIndexOf(':'));
  return part
    .slice(at + 1)
    .split('+')
    .map((h) => {
      const eq = h.lastIndexOf('=');
      return { sku, warehouseId: h.slice(0, eq), quantity: Number(h.slice(eq + 1)) };
    });
}

export const resultOf = (r: EventResult) =>
  r.outputs.find((o): o is Extract<ScriptOutput, { k: 'result' }> => o.k === 'result');

/** A SKU's state as the changelog publishes it. */
export interface LevelRecord {
  sku: string;
  onHand: number;
  reserved: number;
  version: number;
  /** the event that last changed it */
  sourceEventId: string;
  /** topic:partition:offset of that event */
  src: string;
  /** "<warehouse>:<on>:<reserved>,..." or '' (all in the default warehouse): see warehouses.ts */
  warehouseParts: string;
  /** units per hour, as of velocityAt (ms; 0 = no sales yet) */
  reservedPerHour: number;
  soldPerHour: number;
  velocityAt: number;
  /** the forecast's state: a stock-out predicted, the suggestion last published */
  stockoutPredicted: boolean;
  reorderNow: boolean;
  reorderPoint: number;
  suggestedQuantity: number;
}

const F = FIELD_INDEX;

/**
 * Levels as the scripts return them: one MessagePack array of strings (empty: none), four per
 * SKU: sku, "<eventId>|<src>", its SKU record as written (packed: sku-record.ts), its warehouse
 * parts ('' when all is in the default warehouse). Read in place: no buffer per string, no
 * record object between the bytes and the level.
 */
export function levelsFromReply(reply: Buffer): LevelRecord[] {
  const levels: LevelRecord[] = [];
  if (reply.length === 0) return levels;
  const at = stringRanges(reply);
  if (!at || at.length % 8 !== 0) throw new Error('levels in a script reply do not parse');
  const text = (k: number) => reply.toString('utf8', at[k] as number, at[k + 1] as number);
  for (let k = 0; k < at.length; k += 8) {
    const sku = text(k);
    const n = packedSkuNumbers(reply, at[k + 4] as number, at[k + 5] as number);
    if (!n) throw new Error(`corrupt SKU record of ${sku} in a script's reply`);
    const src = text(k + 2);
    const bar = src.indexOf('|');
    const flags = n[F.fc] as number;
    levels.push({
      sku,
      onHand: n[F.on] as number,
      reserved: n[F.rs] as number,
      version: n[F.v] as number,
      sourceEventId: bar >= 0 ? src.slice(0, bar) : src,
      src: bar >= 0 ? src.slice(bar + 1) : '',
      warehouseParts: at[k + 7] === at[k + 6] ? '' : text(k + 6),
      reservedPerHour: (n[F.rv] as number) / VELOCITY_UNIT,
      soldPerHour: (n[F.sv] as number) / VELOCITY_UNIT,
      velocityAt: (n[F.vt] as number) * 1000,
      stockoutPredicted: (flags & SKU_FLAGS.PREDICTED) !== 0,
      reorderNow: (flags & SKU_FLAGS.REORDER_DUE) !== 0,
      reorderPoint: n[F.ro] as number,
      suggestedQuantity: n[F.rq] as number,
    });
  }
  return levels;
}

/** The newest record of each SKU (several shard calls may each report one). */
export function newestLevels(levels: readonly LevelRecord[]): LevelRecord[] {
  const newest = new Map<string, LevelRecord>();
  for (const l of levels) {
    const seen = newest.get(l.sku);
    if (!seen || seen.version < l.version) newest.set(l.sku, l);
  }
  return [...newest.values()];
}
