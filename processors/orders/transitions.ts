/**
 * The order state machine as a table: the one source of its rules. The Lua script
 * (lua/apply-order-events.lua) receives it as generated Lua (`luaTransitions`), and the
 * exhaustive test checks every cell of the script's behaviour in real Redis against it.
 *
 * Causes come from two topics: order events (PLACED, PAID, SHIPPED, DELIVERED, CANCELLED,
 * EXPIRED) and the stock processor's reservation results (RESERVED, REJECTED, and the same as
 * corrections when Redis lost writes and the event was decided again). The two topics are read
 * independently, so a result can overtake its PLACED event and a payment or shipment can
 * overtake its reservation: those races are absorbed (a result implies the order was placed;
 * an early PAID, SHIPPED or DELIVERED waits for the reservation, and so does anything, a
 * cancellation too, that follows a waiting event) instead of being refused. Once the
 * reservation is decided the waiting events replay through this same table, in their order.
 *
 * One fate per order. Events that contradict the order's state are not all errors: the
 * physical world and the money have already moved. The stock processor deducts goods that left
 * whatever the order's state (inventory/order-rules.ts); this side records such an event as
 * an anomaly and raises an alert that names it and says what to do: shipped unpaid (collect),
 * paid after a cancellation, rejection or expiry (refund), shipped after one (recall or bill),
 * a reservation withdrawn or granted by a correction (a rejected order keeps what happened to it
 * meanwhile, and a correction that reserves it replays those events from RESERVED, so the order
 * ends where the goods and the money are). An event that would rewrite history (a
 * cancellation after shipment, a second, different reservation result) is still refused.
 */

export const ORDER_STATES = [
  'PLACED',
  'RESERVED',
  'REJECTED',
  'PAID',
  'SHIPPED',
  'DELIVERED',
  'CANCELLED',
  'EXPIRED',
] as const;
export type OrderState = (typeof ORDER_STATES)[number];

export const ORDER_CAUSES = [
  'PLACED',
  'RESERVED',
  'REJECTED',
  'RESERVED_CORRECTION',
  'REJECTED_CORRECTION',
  'PAID',
  'SHIPPED',
  'DELIVERED',
  'CANCELLED',
  'EXPIRED',
] as const;
export type OrderCause = (typeof ORDER_CAUSES)[number];

export type Decision =
  /** move to these states, in order (two when a race is absorbed); an anomaly alert with it */
  | { kind: 'move'; to: OrderState[]; alert?: string }
  /** nothing to do: the order is already there or past it */
  | { kind: 'noop' }
  /** before the reservation: kept on the order, applied once it is decided */
  | { kind: 'defer' }
  /** the state stays, the event is recorded as an anomaly and raises this alert */
  | { kind: 'flag'; alert: string }
  /** not applied; dead-lettered with this reason */
  | { kind: 'illegal'; reason: string };

const move = (...to: OrderState[]): Decision => ({ kind: 'move', to });
const moveFlagged = (alert: string, ...to: OrderState[]): Decision => ({ kind: 'move', to, alert });
const noop: Decision = { kind: 'noop' };
const defer: Decision = { kind: 'defer' };
const flag = (alert: string): Decision => ({ kind: 'flag', alert });
const illegal = (reason: string): Decision => ({ kind: 'illegal', reason });

type Row = Record<OrderCause, Decision>;

/** `NONE` is an order the processor has never seen. */
export const TRANSITIONS: Record<OrderState | 'NONE', Row> = {
  NONE: {
    PLACED: move('PLACED'),
    RESERVED: move('PLACED', 'RESERVED'),
    REJECTED: move('PLACED', 'REJECTED'),
    RESERVED_CORRECTION: move('PLACED', 'RESERVED'),
    REJECTED_CORRECTION: move('PLACED', 'REJECTED'),
    PAID: illegal('ORDER_UNKNOWN'),
    SHIPPED: illegal('ORDER_UNKNOWN'),
    DELIVERED: illegal('ORDER_UNKNOWN'),
    CANCELLED: illegal('ORDER_UNKNOWN'),
    EXPIRED: illegal('ORDER_UNKNOWN'),
  },
  PLACED: {
    PLACED: noop,
    RESERVED: move('RESERVED'),
    REJECTED: move('REJECTED'),
    RESERVED_CORRECTION: move('RESERVED'),
    REJECTED_CORRECTION: move('REJECTED'),
    PAID: defer,
    SHIPPED: defer,
    DELIVERED: defer,
    CANCELLED: move('CANCELLED'),
    EXPIRED: illegal('NOT_RESERVED'),
  },
  RESERVED: {
    PLACED: noop,
    RESERVED: noop,
    REJECTED: illegal('CONFLICTING_RESULT'),
    RESERVED_CORRECTION: noop,
    REJECTED_CORRECTION: moveFlagged('RESERVATION_WITHDRAWN', 'REJECTED'),
    PAID: move('PAID'),
    SHIPPED: moveFlagged('SHIPPED_UNPAID', 'SHIPPED'),
    DELIVERED: moveFlagged('SHIPPED_UNPAID', 'SHIPPED', 'DELIVERED'),
    CANCELLED: move('CANCELLED'),
    EXPIRED: move('EXPIRED'),
  },
  REJECTED: {
    PLACED: noop,
    RESERVED: illegal('CONFLICTING_RESULT'),
    REJECTED: noop,
    RESERVED_CORRECTION: moveFlagged('RESERVED_AFTER_REJECTION', 'RESERVED'),
    REJECTED_CORRECTION: noop,
    PAID: flag('PAID_REJECTED'),
    SHIPPED: flag('SHIPPED_REJECTED'),
    DELIVERED: flag('SHIPPED_REJECTED'),
    // nothing is held for a rejected order: cancelling it changes nothing
    CANCELLED: noop,
    EXPIRED: illegal('ORDER_REJECTED'),
  },
  PAID: {
    PLACED: noop,
    RESERVED: noop,
    REJECTED: illegal('CONFLICTING_RESULT'),
    RESERVED_CORRECTION: noop,
    REJECTED_CORRECTION: flag('RESERVATION_WITHDRAWN'),
    PAID: noop,
    SHIPPED: move('SHIPPED'),
    DELIVERED: move('SHIPPED', 'DELIVERED'),
    CANCELLED: move('CANCELLED'),
    EXPIRED: illegal('ALREADY_PAID'),
  },
  SHIPPED: {
    PLACED: noop,
    RESERVED: noop,
    REJECTED: illegal('CONFLICTING_RESULT'),
    RESERVED_CORRECTION: noop,
    REJECTED_CORRECTION: flag('RESERVATION_WITHDRAWN'),
    PAID: noop,
    SHIPPED: noop,
    DELIVERED: move('DELIVERED'),
    CANCELLED: illegal('ALREADY_SHIPPED'),
    EXPIRED: illegal('ALREADY_SHIPPED'),
  },
  DELIVERED: {
    PLACED: noop,
    RESERVED: noop,
    REJECTED: illegal('CONFLICTING_RESULT'),
    RESERVED_CORRECTION: noop,
    REJECTED_CORRECTION: flag('RESERVATION_WITHDRAWN'),
    PAID: noop,
    SHIPPED: noop,
    DELIVERED: noop,
    CANCELLED: illegal('ALREADY_SHIPPED'),
    EXPIRED: illegal('ALREADY_SHIPPED'),
  },
  CANCELLED: {
    PLACED: noop,
    // the stock processor reserved before it saw the cancellation, then released
    RESERVED: noop,
    REJECTED: noop,
    RESERVED_CORRECTION: noop,
    REJECTED_CORRECTION: noop,
    PAID: flag('PAID_CANCELLED'),
    SHIPPED: flag('SHIPPED_CANCELLED'),
    DELIVERED: flag('SHIPPED_CANCELLED'),
    CANCELLED: noop,
    EXPIRED: illegal('ORDER_CANCELLED'),
  },
  EXPIRED: {
    PLACED: noop,
    RESERVED: noop,
    REJECTED: illegal('CONFLICTING_RESULT'),
    RESERVED_CORRECTION: noop,
    REJECTED_CORRECTION: noop,
    PAID: flag('PAID_EXPIRED'),
    SHIPPED: flag('SHIPPED_EXPIRED'),
    DELIVERED: flag('SHIPPED_EXPIRED'),
    CANCELLED: illegal('ORDER_EXPIRED'),
    EXPIRED: noop,
  },
};

export const FINAL_STATES: readonly OrderState[] = ['REJECTED', 'DELIVERED', 'CANCELLED', 'EXPIRED'];

export function decide(state: OrderState | null, cause: OrderCause): Decision {
  return TRANSITIONS[state ?? 'NONE'][cause];
}

/**
 * The table as Lua: `T[state][cause] = { kind, arg, alert }` with kind 'm' (move: arg is the
 * comma-separated states), 'n' (noop), 'd' (defer), 'f' (flag: alert), 'x' (illegal: arg is
 * the reason); and `FINAL[state] = true`.
 */
export function luaTransitions(): string {
  const q = (s: string | undefined) => (s === undefined ? 'false' : `'${s}'`);
  const cell = (d: Decision): string => {
    switch (d.kind) {
      case 'move':
        return `{ 'm', ${q(d.to.join(','))}, ${q(d.alert)} }`;
      case 'noop':
        return `{ 'n', false, false }`;
      case 'defer':
        return `{ 'd', false, false }`;
      case 'flag':
        return `{ 'f', false, ${q(d.alert)} }`;
      case 'illegal':
        return `{ 'x', ${q(d.reason)}, false }`;
    }
  };
  const rows = Object.entries(TRANSITIONS).map(
    ([state, row]) =>
      `  ${state} = {\n${Object.entries(row)
        .map(([cause, d]) => `    ${cause} = ${cell(d)},`)
        .join('\n')}\n  },`,
  );
  return `local T = {\n${rows.join('\n')}\n}\nlocal FINAL = { ${FINAL_STATES.map((s) => `${s} = true`).join(', ')} }`;
}
