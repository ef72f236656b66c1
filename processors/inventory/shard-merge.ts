import type { StockCommand } from './commands.js';
import { resultOf, type EventResult, type LevelRecord } from './script-results.js';
import type { PlannedEvent } from './shard-plan.js';

/**
 * Sharded stock (several hash tags): an event spanning shards is applied by one call per shard.
 * These functions turn the shards' replies into one result per event, decide how a tentative
 * hold is settled, and add what settling reported.
 */

/**
 * CONFIRM: every shard reserved. ABORT: rejected on a shard, the order is recorded rejected.
 * DROP: dead-lettered or a re-send, the shard forgets the order as if never placed there.
 */
export type SettleKind = 'CONFIRM' | 'ABORT' | 'DROP';

/** One partition's results: of one shard's call, or merged over the shards. */
export interface PartResults {
  applied: EventResult[];
  replayed: EventResult[];
  ok: number;
  redelivered: number;
  /** the state of the SKUs the call changed, for the changelog */
  levels: LevelRecord[];
}

export interface ShardReply extends PartResults {
  shard: number;
  /** highest offset this shard had applied before (its events up to there were redelivered) */
  redeliveredUpTo: number;
}

interface SpanningGroup {
  fresh: { shard: number; r: EventResult }[];
  old: { shard: number; r: EventResult }[];
}

export interface MergedPart extends PartResults {
  settle: { event: PlannedEvent; kind: SettleKind; shards: number[] }[];
  /** the merged result of each event spanning shards, by offset: settling adds its alerts */
  spanning: Map<number, EventResult>;
  /** results of an earlier settle call, found among the replays */
  settledBefore: EventResult[];
}

/** One result for a PLACE applied on several shards, and which of its tentative holds to settle. */
function mergePlace(
  e: PlannedEvent,
  entries: readonly { shard: number; r: EventResult }[],
): { merged: EventResult; kind: SettleKind; shards: number[] } {
  const c = e.command as Extract<StockCommand, { kind: 'PLACE' }>;
  const reservedOn = entries.filter(({ r }) => r.status === 'ok' && resultOf(r)?.outcome === 'RESERVED');
  const recordedOn = entries.filter(({ r }) => r.status === 'ok');
  const base = { offset: e.offset, eventId: c.eventId };
  const dlq = entries.find(({ r }) => r.status === 'dlq')?.r;
  const dup = entries.find(({ r }) => r.status === 'dup')?.r;
  const rejections = entries.flatMap(({ r }) => {
    const res = r.status === 'ok' ? resultOf(r) : undefined;
    return res?.outcome === 'REJECTED' ? [res] : [];
  });
  let merged: EventResult;
  if (dlq) merged = { ...base, status: 'dlq', ...(dlq.why ? { why: dlq.why } : {}), outputs: [] };
  else if (dup) merged = { ...base, status: 'dup', ...(dup.why ? { why: dup.why } : {}), outputs: [] };
  else {
    const position = new Map(c.lines.map((l, i) => [l.sku, i]));
    const shortages = rejections
      .flatMap((r) => r.shortages)
      .sort((a, b) => (position.get(a.sku) ?? 0) - (position.get(b.sku) ?? 0));
    merged = {
      ...base,
      status: 'ok',
      outputs: [
        {
          k: 'result',
          outcome: rejections.length ? 'REJECTED' : 'RESERVED',
          oid: c.orderId,
          lines: c.lines.map((l) => ({ sku: l.sku, quantity: l.quantity })),
          shortages,
        },
      ],
    };
  }
  const confirm = merged.status === 'ok' && !rejections.length && reservedOn.length === e.parts.size;
  return confirm
    ? { merged, kind: 'CONFIRM', shards: [...e.parts.keys()] }
    : {
        merged,
        kind: merged.status === 'ok' ? 'ABORT' : 'DROP',
        shards: (merged.status === 'ok' ? reservedOn : recordedOn).map(({ shard }) => shard),
      };
}

/** One result for an order event (pay, ship, cancel, expire) of an order held on several shards. */
function mergeOrderEvent(
  e: PlannedEvent,
  entries: readonly { shard: number; r: EventResult }[],
): EventResult {
  const base = { offset: e.offset, eventId: e.command.eventId };
  const done = entries.filter(({ r }) => r.status === 'ok').map(({ r }) => r);
  const first = done.map(resultOf).find((res) => res !== undefined);
  const why = done.find((r) => r.why)?.why;
  if (first) {
    return {
      ...base,
      status: 'ok',
      ...(why ? { why } : {}),
      outputs: [
        { ...first, lines: done.flatMap((r) => resultOf(r)?.lines ?? []) },
        ...done.flatMap((r) => r.outputs.filter((o) => o.k !== 'result')),
      ],
    };
  }
  // applied without a result (a shipment of a paid order only moves its record)
  if (done.length > 0) return { ...base, status: 'ok', ...(why ? { why } : {}), outputs: [] };
  const pick = (['dup', 'skip', 'dlq'] as const)
    .map((st) => entries.find(({ r }) => r.status === st)?.r)
    .find((r) => r !== undefined) as EventResult;
  return { ...base, status: pick.status, ...(pick.why ? { why: pick.why } : {}), outputs: [] };
}

/**
 * The replies of every shard for one partition's part of a round, as one partition's results:
 * an event applied on several shards gets one result, and counts once.
 */
export function mergeShardReplies(
  events: readonly PlannedEvent[],
  replies: readonly ShardReply[],
): MergedPart {
  const spanningEvents = events.filter((e) => e.parts.size > 1);
  const spanningAt = new Set(spanningEvents.map((e) => e.offset));
  const part: MergedPart = {
    applied: [],
    replayed: [],
    ok: 0,
    redelivered: 0,
    levels: [],
    settle: [],
    spanning: new Map(),
    settledBefore: [],
  };
  const groups = new Map<number, SpanningGroup>();
  const redeliveredUpTo = new Map<number, number>();
  for (const reply of replies) {
    redeliveredUpTo.set(reply.shard, reply.redeliveredUpTo);
    part.levels.push(...reply.levels);
    part.ok += reply.ok;
    part.redelivered += reply.redelivered;
    for (const [fresh, results] of [
      [true, reply.applied],
      [false, reply.replayed],
    ] as const) {
      for (const r of results) {
        if (r.settle) part.settledBefore.push(r);
        else if (r.eventId !== undefined && spanningAt.has(r.offset)) {
          let g = groups.get(r.offset);
          if (!g) groups.set(r.offset, (g = { fresh: [], old: [] }));
          (fresh ? g.fresh : g.old).push({ shard: reply.shard, r });
        } else (fresh ? part.applied : part.replayed).push(r);
      }
    }
  }
  for (const e of spanningEvents) {
    const g = groups.get(e.offset) ?? { fresh: [], old: [] };
    // every shard counted the event; it counts once, as applied if any shard applied it now
    const freshOk = g.fresh.filter(({ r }) => r.status === 'ok').length;
    const redeliveredOn = [...e.parts.keys()].filter(
      (s) => e.offset <= (redeliveredUpTo.get(s) ?? -1),
    ).length;
    const entries = [...g.fresh, ...g.old];
    const mergedOk = entries.every(({ r }) => r.status === 'ok');
    if (freshOk > 0) part.ok -= mergedOk ? freshOk - 1 : freshOk;
    if (g.fresh.length > 0) part.redelivered -= redeliveredOn;
    else if (redeliveredOn > 1) part.redelivered -= redeliveredOn - 1;
    if (entries.length === 0) continue; // published and trimmed long ago: nothing to repeat
    let merged: EventResult;
    if (e.command.kind === 'PLACE') {
      const placed = mergePlace(e, entries);
      merged = placed.merged;
      if (placed.shards.length) part.settle.push({ event: e, kind: placed.kind, shards: placed.shards });
    } else merged = mergeOrderEvent(e, entries);
    part.spanning.set(e.offset, merged);
    (g.fresh.length > 0 ? part.applied : part.replayed).push(merged);
  }
  return part;
}

const byOffset = (a: EventResult, b: EventResult) => a.offset - b.offset;

/** Adds what settling reported (the alerts a confirmation released) and orders the results. */
function finishPart(part: MergedPart, settled: readonly ShardReply[]): PartResults {
  const take = (r: EventResult) => {
    const target = r.eventId !== undefined ? part.spanning.get(r.offset) : undefined;
    if (target) target.outputs.push(...r.outputs.filter((o) => o.k === 'alert'));
  };
  for (const r of part.settledBefore) take(r);
  for (const reply of settled) for (const r of reply.applied) take(r);
  return {
    applied: part.applied.sort(byOffset),
    replayed: part.replayed.sort(byOffset),
    ok: part.ok,
    redelivered: part.redelivered,
    levels: [...part.levels, ...settled.flatMap((reply) => reply.levels)],
  };
}

export function finishRound(merged: readonly MergedPart[], settled: readonly ShardReply[][]): PartResults[] {
  return merged.map((m, i) => finishPart(m, settled[i] ?? []));
}
