import type { OrderEvent, ProductUpdate, StockEvent } from '../../schemas/types.js';
import type { OrderEventKind } from './order-rules.js';
import { CATALOGUE_DEFAULTS } from './sku-record.js';
import { WAREHOUSE_PATTERN } from './warehouses.js';

/**
 * What the stock scripts are asked to do, derived from validated input events. Validation is
 * pure: an event either becomes a command or a dead letter with a reason code.
 */
export type StockCommand = (
  | {
      kind: 'RECEIVED' | 'ADJUSTED' | 'COUNTED';
      eventId: string;
      sku: string;
      quantity: number;
      /** absent: the default warehouse */
      warehouse?: string;
    }
  | { kind: 'PLACE'; eventId: string; orderId: string; lines: { sku: string; quantity: number }[] }
  | { kind: OrderEventKind; eventId: string; orderId: string }
) & {
  /** the event's time (ms): velocities and predictions run on it; the processing time when absent */
  at?: number;
};

export interface CatalogueCommand {
  sku: string;
  version: number;
  lowStockThreshold: number;
  safetyStock: number;
  /** the catalogue's defaults (CATALOGUE_DEFAULTS) when absent */
  leadTimeHours?: number;
  orderCost?: number;
  holdingCostPerUnitDay?: number;
}

export type Verdict<T> = { ok: true; command: T } | { ok: true; command: null; why: string } | Rejection;

export interface Rejection {
  ok: false;
  reason: RejectReason;
  detail: string;
}

export type RejectReason =
  | 'MISSING_ID'
  | 'INVALID_SKU'
  | 'INVALID_QUANTITY'
  | 'QUANTITY_TOO_LARGE'
  | 'EMPTY_ORDER'
  | 'TOO_MANY_LINES'
  | 'DUPLICATE_SKU_LINE'
  | 'CLOCK_SKEW'
  | 'INVALID_THRESHOLD'
  | 'INVALID_WAREHOUSE'
  | 'MISSING_SIGNATURE'
  | 'BAD_SIGNATURE';

export interface ValidationLimits {
  /** Largest quantity a single stock event or order line may carry. */
  maxQuantity: number;
  maxOrderLines: number;
  /** How far in the future an event time may be before it is treated as a broken clock. */
  maxClockSkewMs: number;
}

/** A year: a longer lead time is a data error, not a supplier. */
const MAX_LEAD_TIME_HOURS = 8_760;
const MAX_COST = 1_000_000_000;

export const defaultLimits: ValidationLimits = {
  maxQuantity: 1_000_000,
  maxOrderLines: 100,
  maxClockSkewMs: 24 * 60 * 60 * 1000,
};

// SKUs and ids go into Redis keys and into the order-lines encoding (`sku:qty,...`): a closed
// alphabet keeps both unambiguous.
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._\-/]{0,127}$/;
const SKU_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function reject(reason: RejectReason, detail: string): Rejection {
  return { ok: false, reason, detail };
}

export function checkIdAndTime(
  eventId: string,
  occurredAt: number,
  now: number,
  limits: ValidationLimits,
): Rejection | null {
  if (!ID_PATTERN.test(eventId))
    return reject('MISSING_ID', `event id "${eventId.slice(0, 40)}" is not valid`);
  if (occurredAt > now + limits.maxClockSkewMs) {
    return reject('CLOCK_SKEW', `event time ${new Date(occurredAt).toISOString()} is in the future`);
  }
  return null;
}

function checkQuantity(q: number, limits: ValidationLimits, what: string): Rejection | null {
  if (!Number.isSafeInteger(q)) return reject('INVALID_QUANTITY', `${what} quantity ${q} is not an integer`);
  if (Math.abs(q) > limits.maxQuantity) {
    return reject('QUANTITY_TOO_LARGE', `${what} quantity ${q} exceeds the maximum ${limits.maxQuantity}`);
  }
  return null;
}

export function validateStockEvent(
  e: StockEvent,
  now: number,
  limits: ValidationLimits = defaultLimits,
): Verdict<StockCommand> {
  const basic = checkIdAndTime(e.eventId, e.occurredAt, now, limits);
  if (basic) return basic;
  if (!SKU_PATTERN.test(e.sku)) return reject('INVALID_SKU', `sku "${e.sku.slice(0, 40)}" is not valid`);
  const bad = checkQuantity(e.quantity, limits, e.type);
  if (bad) return bad;
  if (e.type === 'RECEIVED' && e.quantity <= 0) {
    return reject('INVALID_QUANTITY', `RECEIVED quantity must be > 0, got ${e.quantity}`);
  }
  if (e.type === 'ADJUSTED' && e.quantity === 0)
    return reject('INVALID_QUANTITY', 'ADJUSTED quantity must not be 0');
  if (e.type === 'COUNTED' && e.quantity < 0) {
    return reject('INVALID_QUANTITY', `COUNTED quantity must be >= 0, got ${e.quantity}`);
  }
  if (e.warehouseId !== null && e.warehouseId !== undefined && !WAREHOUSE_PATTERN.test(e.warehouseId)) {
    return reject('INVALID_WAREHOUSE', `warehouse "${e.warehouseId.slice(0, 40)}" is not valid`);
  }
  return {
    ok: true,
    command: {
      kind: e.type,
      eventId: e.eventId,
      sku: e.sku,
      quantity: e.quantity,
      at: e.occurredAt,
      ...(e.warehouseId ? { warehouse: e.warehouseId } : {}),
    },
  };
}

export function validateOrderEvent(
  e: OrderEvent,
  now: number,
  limits: ValidationLimits = defaultLimits,
): Verdict<StockCommand> {
  const basic = checkIdAndTime(e.eventId, e.occurredAt, now, limits);
  if (basic) return basic;
  if (!ID_PATTERN.test(e.orderId))
    return reject('MISSING_ID', `order id "${e.orderId.slice(0, 40)}" is not valid`);
  switch (e.type) {
    case 'PLACED': {
      if (e.lines.length === 0) return reject('EMPTY_ORDER', 'PLACED order has no lines');
      if (e.lines.length > limits.maxOrderLines) {
        return reject('TOO_MANY_LINES', `${e.lines.length} lines exceed the maximum ${limits.maxOrderLines}`);
      }
      const seen = new Set<string>();
      for (const line of e.lines) {
        if (!SKU_PATTERN.test(line.sku))
          return reject('INVALID_SKU', `sku "${line.sku.slice(0, 40)}" is not valid`);
        if (seen.has(line.sku)) return reject('DUPLICATE_SKU_LINE', `sku ${line.sku} appears on two lines`);
        seen.add(line.sku);
        const bad = checkQuantity(line.quantity, limits, 'line');
        if (bad) return bad;
        if (line.quantity <= 0)
          return reject('INVALID_QUANTITY', `line quantity must be > 0, got ${line.quantity}`);
      }
      return {
        ok: true,
        command: {
          kind: 'PLACE',
          eventId: e.eventId,
          orderId: e.orderId,
          lines: e.lines.map((l) => ({ sku: l.sku, quantity: l.quantity })),
          at: e.occurredAt,
        },
      };
    }
    case 'CANCELLED':
      return {
        ok: true,
        command: { kind: 'CANCEL', eventId: e.eventId, orderId: e.orderId, at: e.occurredAt },
      };
    case 'EXPIRED':
      return {
        ok: true,
        command: { kind: 'EXPIRE', eventId: e.eventId, orderId: e.orderId, at: e.occurredAt },
      };
    case 'PAID':
      return { ok: true, command: { kind: 'PAY', eventId: e.eventId, orderId: e.orderId, at: e.occurredAt } };
    case 'SHIPPED':
      return {
        ok: true,
        command: { kind: 'SHIP', eventId: e.eventId, orderId: e.orderId, at: e.occurredAt },
      };
    case 'DELIVERED':
      // a delivery proves the goods left even when the shipment event never came (order-rules.ts)
      return {
        ok: true,
        command: { kind: 'DELIVER', eventId: e.eventId, orderId: e.orderId, at: e.occurredAt },
      };
  }
}

export function validateProductUpdate(
  e: ProductUpdate,
  now: number,
  limits: ValidationLimits = defaultLimits,
): Verdict<CatalogueCommand> {
  if (!SKU_PATTERN.test(e.sku)) return reject('INVALID_SKU', `sku "${e.sku.slice(0, 40)}" is not valid`);
  if (e.updatedAt > now + limits.maxClockSkewMs) return reject('CLOCK_SKEW', 'update time is in the future');
  if (!Number.isSafeInteger(e.version) || e.version < 1) {
    return reject('INVALID_THRESHOLD', `version must be >= 1, got ${e.version}`);
  }
  for (const [name, v] of [
    ['lowStockThreshold', e.lowStockThreshold],
    ['safetyStock', e.safetyStock],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 0 || v > limits.maxQuantity) {
      return reject('INVALID_THRESHOLD', `${name} must be between 0 and ${limits.maxQuantity}, got ${v}`);
    }
  }
  const leadTimeHours = e.leadTimeHours ?? CATALOGUE_DEFAULTS.leadTimeHours;
  const orderCost = e.orderCost ?? CATALOGUE_DEFAULTS.orderCost;
  const holdingCostPerUnitDay = e.holdingCostPerUnitDay ?? CATALOGUE_DEFAULTS.holdingCostPerUnitDay;
  if (!Number.isSafeInteger(leadTimeHours) || leadTimeHours < 0 || leadTimeHours > MAX_LEAD_TIME_HOURS) {
    return reject(
      'INVALID_THRESHOLD',
      `leadTimeHours must be between 0 and ${MAX_LEAD_TIME_HOURS}, got ${leadTimeHours}`,
    );
  }
  if (!Number.isFinite(orderCost) || orderCost < 0 || orderCost > MAX_COST) {
    return reject('INVALID_THRESHOLD', `orderCost must be between 0 and ${MAX_COST}, got ${orderCost}`);
  }
  // the economic order quantity divides by it; below a millionth the record would store 0
  if (
    !Number.isFinite(holdingCostPerUnitDay) ||
    holdingCostPerUnitDay < 1e-6 ||
    holdingCostPerUnitDay > MAX_COST
  ) {
    return reject(
      'INVALID_THRESHOLD',
      `holdingCostPerUnitDay must be between 0.000001 and ${MAX_COST}, got ${holdingCostPerUnitDay}`,
    );
  }
  return {
    ok: true,
    command: {
      sku: e.sku,
      version: e.version,
      lowStockThreshold: e.lowStockThreshold,
      safetyStock: e.safetyStock,
      leadTimeHours,
      orderCost,
      holdingCostPerUnitDay,
    },
  };
}
