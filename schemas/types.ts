/**
 * TypeScript shapes of the Avro records in schemas/avro. They mirror the .avsc files field by
 * field (a unit test checks sample values against the schemas, so the two cannot drift apart
 * unnoticed). Avro `long` decodes to number: every figure we carry fits in 2^53.
 */

export type OrderEventType = 'PLACED' | 'CANCELLED' | 'PAID' | 'SHIPPED' | 'DELIVERED' | 'EXPIRED';

export interface OrderLine {
  sku: string;
  quantity: number;
  unitPriceMinor: number | null;
}

export interface OrderEvent {
  eventId: string;
  orderId: string;
  type: OrderEventType;
  occurredAt: number;
  lines: OrderLine[];
  customerId: string | null;
  currency: string | null;
  paymentId: string | null;
  trackingNumber: string | null;
  carrier: string | null;
  promisedDeliveryAt: number | null;
  reason: string | null;
  signature: string | null;
}

export type StockEventType = 'RECEIVED' | 'ADJUSTED' | 'COUNTED';

export interface StockEvent {
  eventId: string;
  sku: string;
  type: StockEventType;
  quantity: number;
  occurredAt: number;
  reason: string | null;
  warehouseId: string | null;
}

export type CarrierEventType =
  | 'LABEL_CREATED'
  | 'PICKED_UP'
  | 'IN_TRANSIT'
  | 'OUT_FOR_DELIVERY'
  | 'DELIVERED'
  | 'EXCEPTION'
  | 'LOST'
  | 'RETURNED';

export interface CarrierEvent {
  eventId: string;
  trackingNumber: string;
  carrier: string;
  orderId: string | null;
  type: CarrierEventType;
  occurredAt: number;
  location: string | null;
  promisedDeliveryAt: number | null;
  detail: string | null;
}

export interface ProductUpdate {
  sku: string;
  version: number;
  name: string;
  category: string;
  lowStockThreshold: number;
  safetyStock: number;
  active: boolean;
  /** Avro defaults (product-update.avsc) fill these in for writers that leave them out */
  leadTimeHours?: number;
  orderCost?: number;
  holdingCostPerUnitDay?: number;
  updatedAt: number;
}

export type ReservationOutcome = 'RESERVED' | 'REJECTED' | 'RELEASED' | 'COMMITTED';

export interface ReservationResult {
  resultId: string;
  orderId: string;
  sourceEventId: string;
  outcome: ReservationOutcome;
  lines: { sku: string; quantity: number }[];
  shortages: { sku: string; requested: number; available: number }[];
  allocations?: { sku: string; warehouseId: string; quantity: number }[];
  reason: string | null;
  processedAt: number;
  /** the resultId this result corrects (the event was decided again after Redis lost writes) */
  corrects: string | null;
}

export interface StockLevel {
  sku: string;
  onHand: number;
  reserved: number;
  available: number;
  version: number;
  sourceEventId: string;
  warehouses?: WarehouseStock[];
  reservedPerHour?: number;
  soldPerHour?: number;
  velocityAt?: number;
  stockoutPredicted?: boolean;
  reorderPoint?: number;
  suggestedQuantity?: number;
  reorderNow?: boolean;
  updatedAt: number;
}

export interface WarehouseStock {
  warehouseId: string;
  onHand: number;
  reserved: number;
  available: number;
}

export interface ReplenishmentSuggestion {
  suggestionId: string;
  sku: string;
  reorderPoint: number;
  suggestedQuantity: number;
  reorderNow: boolean;
  available: number;
  velocityPerHour: number;
  leadTimeHours: number;
  safetyStock: number;
  orderCost: number;
  holdingCostPerUnitDay: number;
  sourceEventId: string;
  updatedAt: number;
}

export type AlertSource = 'STOCK' | 'LOGISTICS' | 'LAG' | 'ORDERS' | 'PIPELINE';
export type AlertSeverity = 'INFO' | 'WARNING' | 'CRITICAL';

export interface Alert {
  alertId: string;
  source: AlertSource;
  kind: string;
  severity: AlertSeverity;
  subjectKey: string;
  message: string;
  value: number | null;
  attributes: Record<string, string>;
  sourceEventId: string | null;
  raisedAt: number;
}

export interface OrderStatusChanged {
  transitionId: string;
  orderId: string;
  fromState: string | null;
  toState: string;
  cause: string;
  sourceEventId: string;
  reason: string | null;
  changedAt: number;
}

export interface ShipmentStatusChanged {
  trackingNumber: string;
  orderId: string | null;
  carrier: string;
  fromStatus: string | null;
  toStatus: string;
  carrierEventId: string;
  eventTime: number;
  promisedDeliveryAt: number | null;
  changedAt: number;
}

/** Value type carried by each topic with a schema. */
export interface TopicValues {
  orders: OrderEvent;
  stock: StockEvent;
  carrier: CarrierEvent;
  catalogue: ProductUpdate;
  'reservation-results': ReservationResult;
  'stock-levels': StockLevel;
  replenishment: ReplenishmentSuggestion;
  alerts: Alert;
  'order-status': OrderStatusChanged;
  'shipment-status': ShipmentStatusChanged;
}

export type SchemaTopic = keyof TopicValues;
