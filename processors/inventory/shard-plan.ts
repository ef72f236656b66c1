import type { StockCommand } from './commands.js';
import type { StockShards } from './shards.js';

export interface PlanLine {
  sku: string;
  quantity: number;
}

/** One input event and the part of it each shard applies. */
export interface PlannedEvent {
  offset: number;
  command: StockCommand;
  /** shard → this event's lines there (a PLACE's lines, a release's held lines; [] otherwise) */
  parts: Map<number, PlanLine[]>;
  /** a PLACE whose lines span shards: reserved tentatively, then confirmed or aborted */
  tentative: boolean;
}

export interface PlannedSegment {
  /** index of the input segment this part belongs to */
  segment: number;
  events: PlannedEvent[];
}

export type Round = PlannedSegment[];

export interface PlanInput {
  items: readonly { offset: number; command: StockCommand }[];
}

function skusOf(e: PlannedEvent): string[] {
  const c = e.command;
  if (c.kind === 'RECEIVED' || c.kind === 'ADJUSTED' || c.kind === 'COUNTED') return [c.sku];
  return [...e.parts.values()].flatMap((lines) => lines.map((l) => l.sku));
}

function orderOf(c: StockCommand): string | null {
  return 'orderId' in c ? c.orderId : null;
}

/**
 * Splits the chunks of one call into rounds that behave exactly like applying every event one
 * after the other. A PLACE spanning shards holds its units tentatively until the round's end,
 * where it is confirmed or aborted; so no later event of the same round may touch its SKUs or
 * its order: such an event and the rest of its partition's chunk wait for the next round.
 * Shard calls run the chunks in segment order, so "later" is: a later segment, or a later
 * offset of the same one. With one shard nothing is tentative and everything is one round.
 *
 * `held` names the lines of orders released or committed here that were not placed in the
 * same chunk (from Redis or this instance's cache), by shard.
 */
export function planRounds(
  inputs: readonly PlanInput[],
  shards: StockShards,
  held: ReadonlyMap<string, Map<number, PlanLine[]>>,
): Round[] {
  const planned = inputs.map(({ items }) => {
    const placedHere = new Map<string, Map<number, PlanLine[]>>();
    return items.map(({ offset, command: c }): PlannedEvent => {
      switch (c.kind) {
        case 'RECEIVED':
        case 'ADJUSTED':
        case 'COUNTED':
          return { offset, command: c, parts: new Map([[shards.ofSku(c.sku), []]]), tentative: false };
        case 'PLACE': {
          const parts = shards.group(c.lines);
          if (!placedHere.has(c.orderId)) placedHere.set(c.orderId, parts);
          return { offset, command: c, parts, tentative: parts.size > 1 };
        }
        default: {
          // to every shard holding the order, and always to its home shard: it reports an unknown
          // order, and a redelivery finds the result there however the holders changed since
          const routed = new Map(placedHere.get(c.orderId) ?? held.get(c.orderId) ?? []);
          const home = shards.ofOrder(c.orderId);
          if (!routed.has(home)) routed.set(home, []);
          return { offset, command: c, parts: routed, tentative: false };
        }
      }
    });
  });

  const cursors = planned.map(() => 0);
  const rounds: Round[] = [];
  while (planned.some((events, i) => (cursors[i] as number) < events.length)) {
    const tentativeSkus = new Set<string>();
    const tentativeOrders = new Set<string>();
    const round: Round = [];
    planned.forEach((events, segment) => {
      const taken: PlannedEvent[] = [];
      let i = cursors[segment] as number;
      for (; i < events.length; i++) {
        const e = events[i] as PlannedEvent;
        const order = orderOf(e.command);
        const skus = skusOf(e);
        if ((order && tentativeOrders.has(order)) || skus.some((s) => tentativeSkus.has(s))) break;
        taken.push(e);
        if (e.tentative) {
          for (const s of skus) tentativeSkus.add(s);
          if (order) tentativeOrders.add(order);
        }
      }
      cursors[segment] = i;
      if (taken.length) round.push({ segment, events: taken });
    });
    rounds.push(round);
  }
  return rounds;
}
