import type { WarehouseStock } from '../../schemas/types.js';

/**
 * Stock per warehouse (the rules live in the stock script and its include stock-level.lua;
 * model.ts restates them):
 * - a stock event moves the stock of its warehouse (`warehouseId`; without one, the default
 *   warehouse), a count sets that warehouse's on-hand;
 * - an order is held whole in the first warehouse, in preference order, that can serve every
 *   line; otherwise each line is taken from the warehouses in that order, all or nothing (an
 *   order that cannot be served whole by all of them together is rejected);
 * - payment, shipment, release and restock act on exactly the units the order holds where it
 *   holds them.
 * Preference order: the configured list first, then the other warehouses by name. With several
 * stock shards an order's lines on one shard are placed together, not across shards.
 */
export interface WarehouseSettings {
  /** where events without a warehouse go */
  defaultWarehouse: string;
  /** warehouses to take orders from first, best first */
  preference: readonly string[];
}

export const DEFAULT_WAREHOUSES: WarehouseSettings = { defaultWarehouse: 'default', preference: [] };

/** Warehouse ids go into order records ("sku:q@<warehouse>=<n>+..."): a closed alphabet keeps them unambiguous. */
export const WAREHOUSE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;

/** The script argument's `wh`. */
export function warehouseArgument(w: WarehouseSettings): { def: string; pref: string[] } {
  return { def: w.defaultWarehouse, pref: [...w.preference] };
}

/**
 * An order record's lines as the stock script writes them (for a rebuild): "sku:q", or
 * "sku:q@<warehouse>=<n>+..." for a line held (partly) outside the default warehouse.
 */
export function orderLinesText(
  lines: readonly { sku: string; quantity: number }[],
  held: readonly { sku: string; warehouseId: string; quantity: number }[],
  defaultWarehouse: string,
): string {
  return lines
    .map((l) => {
      const parts = held.filter((h) => h.sku === l.sku);
      const plain = parts.every((h) => h.warehouseId === defaultWarehouse);
      return plain
        ? `${l.sku}:${l.quantity}`
        : `${l.sku}:${l.quantity}@${parts.map((h) => `${h.warehouseId}=${h.quantity}`).join('+')}`;
    })
    .join(',');
}

/** A SKU's parts as the scripts store them, or '' when everything is in the default warehouse. */
export function warehousePartsText(parts: readonly WarehouseStock[], defaultWarehouse: string): string {
  if (parts.every((p) => p.warehouseId === defaultWarehouse)) return '';
  return [...parts]
    .sort((a, b) => (a.warehouseId < b.warehouseId ? -1 : 1))
    .map((p) => `${p.warehouseId}:${p.onHand}:${p.reserved}`)
    .join(',');
}

/**
 * A SKU's stock per warehouse from its totals and its parts as the scripts store them
 * ("<warehouse>:<on>:<reserved>,..."; empty: everything in the default warehouse).
 */
export function warehouseStock(
  onHand: number,
  reserved: number,
  parts: string,
  defaultWarehouse: string,
): WarehouseStock[] {
  if (!parts) return [{ warehouseId: defaultWarehouse, onHand, reserved, available: onHand - reserved }];
  return parts.split(',').map((part) => {
    const [warehouseId = '', on = '0', rs = '0'] = part.split(':');
    return { warehouseId, onHand: Number(on), reserved: Number(rs), available: Number(on) - Number(rs) };
  });
}
