import type { OrderEvent } from '../../schemas/types.js';
import type { HeldUnits, ScriptLine } from './script-results.js';
import { decisionOf, type InventoryHistory } from './history.js';
import { STOCK_ORDER_RULES, type HoldAction, type HoldState, type OrderEventKind } from './order-rules.js';

/** What an order's events did to stock, replayed from Kafka for reconcile and rebuild. */
export interface ReplayedOrder {
  /** the hold's state letter (R, X, C, S, L) */
  state: Exclude<HoldState, 'NONE'>;
  lines: ScriptLine[];
  /** where the reservation held its units, as its result said */
  allocations: HeldUnits[];
}

export interface HoldReplay {
  orders: Map<string, ReplayedOrder>;
  /** on-hand change per SKU caused by orders: payments and shipments deduct, restocks add */
  onHandDelta: Map<string, number>;
}

const KIND_OF: Partial<Record<OrderEvent['type'], OrderEventKind>> = {
  PAID: 'PAY',
  SHIPPED: 'SHIP',
  DELIVERED: 'DELIVER',
  CANCELLED: 'CANCEL',
  EXPIRED: 'EXPIRE',
};

const NEXT: Record<string, { state: Exclude<HoldState, 'NONE'>; onHand: number }> = {
  commit: { state: 'C', onHand: -1 },
  ship: { state: 'S', onHand: -1 },
  'ship-committed': { state: 'S', onHand: 0 },
  'ship-unheld': { state: 'S', onHand: -1 },
  release: { state: 'L', onHand: 0 },
  restock: { state: 'L', onHand: 1 },
};

/**
 * Replays every order's events from the orders topic through the stock rules (order-rules.ts),
 * starting from the reservation decision the stock processor published (the last one: a
 * correction replaces the original). `applied` says which input offsets the processor has
 * applied (its watermark; dead-lettered ones excluded): what it has not applied yet is left out.
 */
export function replayHolds(
  h: InventoryHistory,
  applied: (topicPartition: { partition: number; offset: number }) => boolean,
): HoldReplay {
  const orders = new Map<string, ReplayedOrder>();
  const onHandDelta = new Map<string, number>();
  for (const [orderId, events] of h.orderEvents) {
    const decision = decisionOf(h.results.get(orderId) ?? []);
    let state: HoldState = 'NONE';
    let lines: ScriptLine[] = [];
    let allocations: HeldUnits[] = [];
    for (const e of [...events].sort((a, b) => a.offset - b.offset)) {
      if (!applied(e)) continue;
      if (e.event.type === 'PLACED') {
        if (state === 'NONE' && decision && decision.sourceEventId === e.event.eventId) {
          state = decision.outcome === 'RESERVED' ? 'R' : 'X';
          lines = decision.lines.map((l) => ({ sku: l.sku, quantity: l.quantity }));
          allocations = decision.outcome === 'RESERVED' ? (decision.allocations ?? []) : [];
        }
        continue;
      }
      const kind = KIND_OF[e.event.type];
      if (!kind) continue;
      const action: HoldAction = STOCK_ORDER_RULES[kind][state];
      const next: { state: Exclude<HoldState, 'NONE'>; onHand: number } | undefined = NEXT[action.do];
      if (!next) continue;
      for (const l of lines) onHandDelta.set(l.sku, (onHandDelta.get(l.sku) ?? 0) + next.onHand * l.quantity);
      state = next.state;
    }
    if (state !== 'NONE') orders.set(orderId, { state, lines, allocations });
  }
  return { orders, onHandDelta };
}
