import type { StockCommand } from '../../processors/inventory/commands.js';

/** A receipt, as the stock tests write it. */
export function receiveCommand(eventId: string, sku: string, quantity: number): StockCommand {
  return { kind: 'RECEIVED', eventId, sku, quantity };
}

/** An order placed with [sku, quantity] lines; its event id defaults to `pl-<orderId>`. */
export function placeCommand(
  orderId: string,
  lines: readonly (readonly [string, number])[],
  eventId = `pl-${orderId}`,
): StockCommand {
  return { kind: 'PLACE', eventId, orderId, lines: lines.map(([sku, quantity]) => ({ sku, quantity })) };
}
