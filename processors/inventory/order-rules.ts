/**
 * What an order event does to the stock an order holds: the one source of these rules. The Lua
 * script (apply-stock-batch.lua) receives them as a generated table (`luaOrderRules`), so the
 * two cannot drift; the reference model in model.ts states the same rules in its own words and
 * the property test holds the script to it.
 *
 * The physical world wins for stock: goods that left the warehouse are deducted whatever the
 * order's state says (a shipment of a released or rejected order takes units off the shelf and
 * is reported), and a cancelled order that was paid but not shipped puts its units back. The
 * order processor follows the same rule on its side (orders/transitions.ts) and raises the
 * alert that names the anomaly (shipped unpaid, paid after cancel: refund), so both processors
 * give an order one fate.
 *
 * Hold states, kept per order as the first letter of its record:
 *   R held (reserved), T held tentatively (an order spanning shards, until confirmed),
 *   X rejected, C committed (paid: deducted, goods still in the warehouse),
 *   S shipped (goods left), L released (cancelled or expired).
 */

/**
 * SHIP is the shipment event; DELIVER a delivery, which proves the goods left even when no
 * shipment event came, and is the normal next step after one (so not a duplicate of it).
 */
export type OrderEventKind = 'PAY' | 'SHIP' | 'DELIVER' | 'CANCEL' | 'EXPIRE';
export type HoldState = 'NONE' | 'R' | 'C' | 'S' | 'X' | 'L';

export type HoldAction =
  /** R -> C: units leave reserved and on hand (result COMMITTED) */
  | { do: 'commit' }
  /** R -> S: as commit, the goods left (result COMMITTED) */
  | { do: 'ship' }
  /** C -> S: already deducted; only the record moves (no result) */
  | { do: 'ship-committed' }
  /** X or L -> S: nothing was held, the goods left anyway: on hand drops (result COMMITTED, reason) */
  | { do: 'ship-unheld' }
  /** R -> L: the hold is given back (result RELEASED) */
  | { do: 'release' }
  /** C -> L: paid, not shipped, cancelled: the units go back on hand (result RELEASED, reason) */
  | { do: 'restock' }
  /** already done: nothing changes */
  | { do: 'dup'; why: string }
  /** nothing to do for stock (the order processor refuses or flags it) */
  | { do: 'skip'; why: string }
  /** not applicable: dead-lettered */
  | { do: 'dlq'; why: string };

const unknown: HoldAction = { do: 'dlq', why: 'UNKNOWN_ORDER' };

export const STOCK_ORDER_RULES: Record<OrderEventKind, Record<HoldState, HoldAction>> = {
  PAY: {
    NONE: unknown,
    R: { do: 'commit' },
    C: { do: 'dup', why: 'ALREADY_COMMITTED' },
    S: { do: 'dup', why: 'ALREADY_SHIPPED' },
    X: { do: 'skip', why: 'NOTHING_HELD_X' },
    L: { do: 'skip', why: 'NOTHING_HELD_L' },
  },
  SHIP: {
    NONE: unknown,
    R: { do: 'ship' },
    C: { do: 'ship-committed' },
    S: { do: 'dup', why: 'ALREADY_SHIPPED' },
    X: { do: 'ship-unheld' },
    L: { do: 'ship-unheld' },
  },
  DELIVER: {
    NONE: unknown,
    R: { do: 'ship' },
    C: { do: 'ship-committed' },
    S: { do: 'skip', why: 'DELIVERED_AFTER_SHIPMENT' },
    X: { do: 'ship-unheld' },
    L: { do: 'ship-unheld' },
  },
  CANCEL: {
    NONE: unknown,
    R: { do: 'release' },
    C: { do: 'restock' },
    S: { do: 'skip', why: 'ALREADY_SHIPPED' },
    X: { do: 'skip', why: 'NOTHING_HELD_X' },
    L: { do: 'dup', why: 'ALREADY_RELEASED' },
  },
  EXPIRE: {
    NONE: unknown,
    R: { do: 'release' },
    C: { do: 'skip', why: 'ALREADY_PAID' },
    S: { do: 'skip', why: 'ALREADY_SHIPPED' },
    X: { do: 'skip', why: 'NOTHING_HELD_X' },
    L: { do: 'dup', why: 'ALREADY_RELEASED' },
  },
};

/** The table as Lua source: `ORDER_RULES[kind][state] = { 'action', 'why' }`. */
export function luaOrderRules(): string {
  const rows = Object.entries(STOCK_ORDER_RULES).map(([kind, row]) => {
    const cells = Object.entries(row).map(([state, a]) => {
      const why = 'why' in a ? `'${a.why}'` : 'false';
      return `${state} = { '${a.do}', ${why} }`;
    });
    return `  ${kind} = { ${cells.join(', ')} },`;
  });
  return `local ORDER_RULES = {\n${rows.join('\n')}\n}`;
}
