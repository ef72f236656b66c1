import type { CatalogueCommand, StockCommand } from './commands.js';

/**
 * The reference model of the stock rules: plain TypeScript, no Redis, no concurrency. Tests
 * feed the same commands to it and to the Lua scripts and require identical state and
 * decisions. It mirrors the contract, not the code: levels, holds and idempotence rules.
 */

export interface ModelSku {
  onHand: number;
  reserved: number;
  threshold: number;
  safety: number;
  catalogueVersion: number;
  level: number;
}

export type ModelOrderState = 'RESERVED' | 'REJECTED' | 'RELEASED' | 'COMMITTED' | 'SHIPPED';

export interface ModelOrder {
  state: ModelOrderState;
  lines: { sku: string; quantity: number }[];
}

export interface ModelDecision {
  eventId: string;
  status: 'ok' | 'dup' | 'skip' | 'dlq';
  why?: string;
  outcome?: ModelOrderState;
  alerts: string[];
}

function levelOf(s: ModelSku): number {
  const available = s.onHand - s.reserved;
  if (available < 0) return 3;
  if (available === 0) return 2;
  if (available <= s.threshold) return 1;
  return 0;
}

const LEVEL_ALERT = ['', 'LOW_STOCK', 'OUT_OF_STOCK', 'SHORTAGE'];

export class StockModel {
  readonly skus = new Map<string, ModelSku>();
  readonly orders = new Map<string, ModelOrder>();
  private readonly seenEventIds = new Set<string>();
  private readonly watermarks = new Map<string, number>();

  private follow(sku: string, s: ModelSku, alerts: string[]): void {
    const next = levelOf(s);
    let prev = s.level;
    if (next === prev || (prev === -1 && next === 2)) return;
    s.level = next;
    if (prev === -1) prev = 0;
    if (next > prev) alerts.push(`${LEVEL_ALERT[next]}:${sku}`);
    else if (prev >= 2 && next <= 1) alerts.push(`BACK_IN_STOCK:${sku}`);
  }

  catalogue(c: CatalogueCommand): string[] {
    const alerts: string[] = [];
    const s = this.skus.get(c.sku);
    if (!s) {
      this.skus.set(c.sku, {
        onHand: 0,
        reserved: 0,
        threshold: c.lowStockThreshold,
        safety: c.safetyStock,
        catalogueVersion: c.version,
        level: -1,
      });
      return alerts;
    }
    if (s.catalogueVersion >= c.version) return alerts;
    s.catalogueVersion = c.version;
    s.threshold = c.lowStockThreshold;
    s.safety = c.safetyStock;
    this.follow(c.sku, s, alerts);
    return alerts;
  }

  /** Applies one command read at `offset` of `partitionKey`; redeliveries below the watermark return null. */
  apply(partitionKey: string, offset: number, c: StockCommand): ModelDecision | null {
    const wm = this.watermarks.get(partitionKey) ?? -1;
    if (offset <= wm) return null;
    this.watermarks.set(partitionKey, offset);
    const alerts: string[] = [];
    const d = (status: ModelDecision['status'], why?: string, outcome?: ModelOrderState): ModelDecision => {
      const r: ModelDecision = { eventId: c.eventId, status, alerts };
      if (why) r.why = why;
      if (outcome) r.outcome = outcome;
      return r;
    };
    switch (c.kind) {
      case 'RECEIVED':
      case 'ADJUSTED':
      case 'COUNTED': {
        const s = this.skus.get(c.sku);
        if (!s) return d('dlq', 'UNKNOWN_SKU');
        if (this.seenEventIds.has(c.eventId)) return d('dup', 'DUPLICATE_EVENT_ID');
        this.seenEventIds.add(c.eventId);
        s.onHand = c.kind === 'COUNTED' ? c.quantity : s.onHand + c.quantity;
        this.follow(c.sku, s, alerts);
        return d('ok');
      }
      case 'PLACE': {
        if (this.orders.has(c.orderId)) return d('dup', 'ORDER_ALREADY_PLACED');
        if (c.lines.some((l) => !this.skus.has(l.sku))) return d('dlq', 'UNKNOWN_SKU');
        const short = c.lines.some((l) => {
          const s = this.skus.get(l.sku) as ModelSku;
          return l.quantity > s.onHand - s.reserved - s.safety;
        });
        if (short) {
          this.orders.set(c.orderId, { state: 'REJECTED', lines: c.lines });
          return d('ok', undefined, 'REJECTED');
        }
        for (const l of c.lines) {
          const s = this.skus.get(l.sku) as ModelSku;
          s.reserved += l.quantity;
          this.follow(l.sku, s, alerts);
        }
        this.orders.set(c.orderId, { state: 'RESERVED', lines: c.lines });
        return d('ok', undefined, 'RESERVED');
      }
      default: {
        // PAY, SHIP, DELIVER, CANCEL, EXPIRE: what stock does depends on where the order's hold is. Goods
        // that left are deducted whatever was held; paid but not shipped and then cancelled
        // puts them back; a payment or expiry of an order that holds nothing changes nothing.
        const o = this.orders.get(c.orderId);
        if (!o) return d('dlq', 'UNKNOWN_ORDER');
        const each = (fn: (s: ModelSku, q: number) => void) => {
          for (const l of o.lines) {
            const s = this.skus.get(l.sku) as ModelSku;
            fn(s, l.quantity);
            this.follow(l.sku, s, alerts);
          }
        };
        const state = o.state;
        if (c.kind === 'PAY') {
          if (state === 'RESERVED') {
            each((s, q) => {
              s.reserved -= q;
              s.onHand -= q;
            });
            o.state = 'COMMITTED';
            return d('ok', undefined, 'COMMITTED');
          }
          return state === 'COMMITTED' || state === 'SHIPPED' ? d('dup') : d('skip');
        }
        if (c.kind === 'SHIP' || c.kind === 'DELIVER') {
          // a delivery after the shipment is the order's normal course: nothing left to deduct
          if (state === 'SHIPPED') return c.kind === 'SHIP' ? d('dup') : d('skip');
          o.state = 'SHIPPED';
          if (state === 'COMMITTED') return d('ok', 'SHIPPED_AFTER_PAYMENT');
          each((s, q) => {
            if (state === 'RESERVED') s.reserved -= q;
            s.onHand -= q;
          });
          return d('ok', state === 'RESERVED' ? undefined : 'SHIPPED_WITHOUT_HOLD', 'COMMITTED');
        }
        // CANCEL or EXPIRE
        if (state === 'RELEASED') return d('dup');
        if (state === 'RESERVED') {
          each((s, q) => {
            s.reserved -= q;
          });
          o.state = 'RELEASED';
          return d('ok', undefined, 'RELEASED');
        }
        if (state === 'COMMITTED' && c.kind === 'CANCEL') {
          each((s, q) => {
            s.onHand += q;
          });
          o.state = 'RELEASED';
          return d('ok', 'RESTOCKED', 'RELEASED');
        }
        return d('skip');
      }
    }
  }
}
