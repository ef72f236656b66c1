/**
 * The order state machine as a table: the specification the Lua script
 * (lua/apply-order-events.lua) implements and the exhaustive test checks cell by cell against
 * real Redis.
 *
 * Causes come from two topics: order events (PLACED, PAID, SHIPPED, DELIVERED, CANCELLED,
 * EXPIRED) and the stock processor's reservation results (RESERVED, REJECTED). The two topics
 * are read independently, so a result can overtake its PLACED event and a PAID can overtake its
 * reservation: those races are absorbed (a result implies the order was placed; an early PAID
 * waits for the reservation, and a SHIPPED or DELIVERED behind a waiting PAID waits with it)
 * instead of being dead-lettered. Once the reservation is decided the waiting events replay
 * through this same table; any it refuses (PAID for a rejected order) raises an ORDERS alert.
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
  'PAID',
  'SHIPPED',
  'DELIVERED',
  'CANCELLED',
  'EXPIRED',
] as const;
export type OrderCause = (typeof ORDER_CAUSES)[number];

export type Decision =
  /** move to these states, in order (two when a race is absorbed) */
  | { kind: 'move'; to: OrderState[] }
  /** nothing to do: the order is already there or past it */
  | { kind: 'noop' }
  /** PAID before the reservation: kept on the order, applied when RESERVED arrives */
  | { kind: 'defer' }
  /** not applied; dead-lettered with this reason */
  | { kind: 'illegal'; reason: string };

const move = (...to: OrderState[]): Decision => ({ kind: 'move', to });
const noop: Decision = { kind: 'noop' };
const illegal = (reason: string): Decision => ({ kind: 'illegal', reason });

type Row = Record<OrderCause, Decision>;

/** `null` is an order the processor has never seen. */
export const TRANSITIONS: Record<OrderState | 'NONE', Row> = {
  NONE: {
    PLACED: move('PLACED'),
    RESERVED: move('PLACED', 'RESERVED'),
    REJECTED: move('PLACED', 'REJECTED'),
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
    PAID: { kind: 'defer' },
    SHIPPED: illegal('NOT_PAID'),
    DELIVERED: illegal('NOT_SHIPPED'),
    CANCELLED: move('CANCELLED'),
    EXPIRED: illegal('NOT_RESERVED'),
  },
  RESERVED: {
    PLACED: noop,
    RESERVED: noop,
    REJECTED: illegal('CONFLICTING_RESULT'),
    PAID: move('PAID'),
    SHIPPED: illegal('NOT_PAID'),
    DELIVERED: illegal('NOT_SHIPPED'),
    CANCELLED: move('CANCELLED'),
    EXPIRED: move('EXPIRED'),
  },
  REJECTED: {
    PLACED: noop,
    RESERVED: illegal('CONFLICTING_RESULT'),
    REJECTED: noop,
    PAID: illegal('ORDER_REJECTED'),
    SHIPPED: illegal('ORDER_REJECTED'),
    DELIVERED: illegal('ORDER_REJECTED'),
    CANCELLED: illegal('ORDER_REJECTED'),
    EXPIRED: illegal('ORDER_REJECTED'),
  },
  PAID: {
    PLACED: noop,
    RESERVED: noop,
    REJECTED: illegal('CONFLICTING_RESULT'),
    PAID: noop,
    SHIPPED: move('SHIPPED'),
    DELIVERED: illegal('NOT_SHIPPED'),
    CANCELLED: move('CANCELLED'),
    EXPIRED: illegal('ALREADY_PAID'),
  },
  SHIPPED: {
    PLACED: noop,
    RESERVED: noop,
    REJECTED: illegal('CONFLICTING_RESULT'),
    PAID: noop,
    SHIPPED: noop,
    DELIVERED: move('DELIVERED'),
    CANCELLED: illegal('ALREADY_SHIPPED'),
    EXPIRED: illegal('ALREADY_PAID'),
  },
  DELIVERED: {
    PLACED: noop,
    RESERVED: noop,
    REJECTED: illegal('CONFLICTING_RESULT'),
    PAID: noop,
    SHIPPED: noop,
    DELIVERED: noop,
    CANCELLED: illegal('ALREADY_SHIPPED'),
    EXPIRED: illegal('ALREADY_PAID'),
  },
  CANCELLED: {
    PLACED: noop,
    // the stock processor reserved before it saw the cancellation, then released
    RESERVED: noop,
    REJECTED: noop,
    PAID: illegal('ORDER_CANCELLED'),
    SHIPPED: illegal('ORDER_CANCELLED'),
    DELIVERED: illegal('ORDER_CANCELLED'),
    CANCELLED: noop,
    EXPIRED: illegal('ORDER_CANCELLED'),
  },
  EXPIRED: {
    PLACED: noop,
    RESERVED: noop,
    REJECTED: illegal('CONFLICTING_RESULT'),
    PAID: illegal('ORDER_EXPIRED'),
    SHIPPED: illegal('ORDER_EXPIRED'),
    DELIVERED: illegal('ORDER_EXPIRED'),
    CANCELLED: illegal('ORDER_EXPIRED'),
    EXPIRED: noop,
  },
};

export function decide(state: OrderState | null, cause: OrderCause): Decision {
  return TRANSITIONS[state ?? 'NONE'][cause];
}
