import type { CatalogueCommand, StockCommand } from './commands.js';
import { DEFAULT_FORECAST, type ForecastSettings } from './forecast.js';
import { CATALOGUE_DEFAULTS } from './sku-record.js';
import { DEFAULT_WAREHOUSES, type WarehouseSettings } from './warehouses.js';

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
  /** hours, cents, millionths per unit-day: as the record stores them */
  leadTimeHours: number;
  orderCostCents: number;
  holdingCostMillionths: number;
  /** thousandths of a unit per hour, as of velocityAt (seconds) */
  reservedRate: number;
  soldRate: number;
  velocityAt: number;
  stockoutPredicted: boolean;
  reorderDue: boolean;
  /** the suggestion last published, and when (seconds) */
  reorderPoint: number;
  reorderQuantity: number;
  suggestedAt: number;
  /** per warehouse: the parts of onHand and reserved, for every warehouse that ever held some */
  warehouses: Map<string, { onHand: number; reserved: number }>;
}

export type ModelOrderState = 'RESERVED' | 'REJECTED' | 'RELEASED' | 'COMMITTED' | 'SHIPPED';

export interface ModelOrder {
  state: ModelOrderState;
  lines: { sku: string; quantity: number }[];
  /** per line: [warehouse, units] it holds (or held); null: all in the default warehouse */
  held: [string, number][][] | null;
}

export interface ModelDecision {
  eventId: string;
  status: 'ok' | 'dup' | 'skip' | 'dlq';
  why?: string;
  outcome?: ModelOrderState;
  alerts: string[];
  /** a result's units held outside the default warehouse: "sku@warehouse=units" */
  held?: string[];
}

function levelOf(s: ModelSku): number {
  const available = s.onHand - s.reserved;
  if (available < 0) return 3;
  if (available === 0) return 2;
  if (available <= s.threshold) return 1;
  return 0;
}

const LEVEL_ALERT = ['', 'LOW_STOCK', 'OUT_OF_STOCK', 'SHORTAGE'];

/**
 * The forecasting contract, restated: an exponentially weighted rate in event time, where each
 * unit adds ln2/halfLife per second and the rate halves every half-life (kept, as the scripts
 * keep it, in whole thousandths of a unit per hour, rounded at every step).
 */
class Forecaster {
  constructor(private readonly f: ForecastSettings) {}

  /** Rates move forward in time only while there are any: velocityAt is the time of the rates. */
  private decayTo(s: ModelSku, t: number): void {
    if (t <= s.velocityAt || (s.reservedRate === 0 && s.soldRate === 0)) return;
    const keep = 2 ** (-(t - s.velocityAt) / this.f.halfLifeSeconds);
    s.reservedRate = Math.floor(s.reservedRate * keep + 0.5);
    s.soldRate = Math.floor(s.soldRate * keep + 0.5);
    s.velocityAt = t;
  }

  demand(s: ModelSku, which: 'reserved' | 'sold', units: number, t: number): void {
    this.decayTo(s, t);
    s.velocityAt = Math.max(s.velocityAt, t);
    const add = Math.floor((units * 1000 * 3600 * Math.LN2) / this.f.halfLifeSeconds + 0.5);
    if (which === 'reserved') s.reservedRate += add;
    else s.soldRate += add;
  }

  /** What changes after an event at t: alert names for the decision. */
  follow(sku: string, s: ModelSku, t: number, alerts: string[]): void {
    this.decayTo(s, t);
    const perHour = Math.max(s.reservedRate, s.soldRate) / 1000;
    const available = s.onHand - s.reserved;
    const horizon = s.leadTimeHours + this.f.marginHours;
    const coverHours = perHour > 0 ? available / perHour : Infinity;
    if (!s.stockoutPredicted && available > 0 && coverHours < horizon) {
      s.stockoutPredicted = true;
      alerts.push(`STOCKOUT_PREDICTED:${sku}`);
    } else if (s.stockoutPredicted && available > 0 && coverHours >= horizon * 1.1) {
      s.stockoutPredicted = false;
      alerts.push(`STOCKOUT_CLEARED:${sku}`);
    }
    if (perHour === 0 && s.reorderPoint === 0 && s.reorderQuantity === 0) return;
    const point = Math.ceil(perHour * s.leadTimeHours + s.safety);
    const quantity =
      perHour > 0 && s.holdingCostMillionths > 0
        ? Math.ceil(
            Math.sqrt(
              (2 * (s.orderCostCents / 100) * (perHour * 24)) / (s.holdingCostMillionths / 1_000_000),
            ),
          )
        : 0;
    const due = perHour > 0 && available <= point;
    const moved = (now: number, before: number) =>
      before === 0 ? now !== 0 : Math.abs(now - before) > Math.max(1, before * 0.1);
    const stale = t - s.suggestedAt >= this.f.resuggestAfterSeconds;
    if (
      due !== s.reorderDue ||
      (stale && (moved(point, s.reorderPoint) || moved(quantity, s.reorderQuantity)))
    ) {
      s.reorderPoint = point;
      s.reorderQuantity = quantity;
      s.suggestedAt = t;
      s.reorderDue = due;
      alerts.push(`REPLENISH:${sku}`);
    }
  }
}

export class StockModel {
  readonly skus = new Map<string, ModelSku>();
  private readonly forecaster: Forecaster;

  private readonly defaultWarehouse: string;
  private readonly preference: readonly string[];

  /**
   * `placedTogether`: which lines of an order are placed together (the stock shard of their
   * SKU: with several shards each one places its own lines, see warehouses.ts); all of them by
   * default.
   */
  constructor(
    forecast: ForecastSettings = DEFAULT_FORECAST,
    warehouses: WarehouseSettings = DEFAULT_WAREHOUSES,
    private readonly placedTogether: (sku: string) => number = () => 0,
  ) {
    this.forecaster = new Forecaster(forecast);
    this.defaultWarehouse = warehouses.defaultWarehouse;
    this.preference = warehouses.preference;
  }

  /** allocate() for each group of lines placed together; false if any group cannot be served. */
  private allocateGroups(lines: { sku: string; quantity: number }[]): [string, number][][] | null | false {
    const groups = new Map<number, number[]>();
    lines.forEach((l, i) => {
      const g = this.placedTogether(l.sku);
      groups.set(g, [...(groups.get(g) ?? []), i]);
    });
    const held: ([string, number][] | null)[] = lines.map(() => null);
    let any = false;
    for (const indexes of groups.values()) {
      const part = this.allocate(indexes.map((i) => lines[i] as { sku: string; quantity: number }));
      if (part === false) return false;
      if (part === null) continue;
      any = true;
      indexes.forEach((line, k) => {
        held[line] = part[k] ?? null;
      });
    }
    if (!any) return null;
    return held.map((h, i) => h ?? [[this.defaultWarehouse, (lines[i] as { quantity: number }).quantity]]);
  }

  private part(s: ModelSku, w: string): { onHand: number; reserved: number } {
    let p = s.warehouses.get(w);
    if (!p) {
      p = { onHand: 0, reserved: 0 };
      s.warehouses.set(w, p);
    }
    return p;
  }

  /**
   * Where an order's lines are held: null when none of their SKUs is stocked outside the
   * default warehouse (all held there); else the whole order in the first warehouse, in
   * preference order, that can serve every line; else each line from the warehouses in that
   * order; false when some line cannot be served by all of them together.
   */
  private allocate(lines: { sku: string; quantity: number }[]): [string, number][][] | null | false {
    const skus = lines.map((l) => this.skus.get(l.sku) as ModelSku);
    if (skus.every((s) => [...s.warehouses.keys()].every((w) => w === this.defaultWarehouse))) return null;
    const names = [...new Set(skus.flatMap((s) => [...s.warehouses.keys()]))];
    const rank = (w: string) => {
      const i = this.preference.indexOf(w);
      return i < 0 ? Infinity : i;
    };
    names.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
    const free = (s: ModelSku, w: string) => {
      const p = s.warehouses.get(w);
      return p ? p.onHand - p.reserved : 0;
    };
    const whole = names.find((w) => lines.every((l, i) => free(skus[i] as ModelSku, w) >= l.quantity));
    if (whole !== undefined) return lines.map((l) => [[whole, l.quantity]]);
    const held: [string, number][][] = [];
    for (const [i, l] of lines.entries()) {
      let left = l.quantity;
      const parts: [string, number][] = [];
      for (const w of names) {
        const f = free(skus[i] as ModelSku, w);
        if (f <= 0 || left === 0) continue;
        const take = Math.min(f, left);
        parts.push([w, take]);
        left -= take;
      }
      if (left > 0) return false;
      held.push(parts);
    }
    return held;
  }

  private heldText(o: ModelOrder): string[] {
    if (!o.held) return [];
    const held = o.held;
    return o.lines.flatMap((l, i) => (held[i] ?? []).map(([w, n]) => `${l.sku}@${w}=${n}`));
  }

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
    const costs = {
      leadTimeHours: c.leadTimeHours ?? CATALOGUE_DEFAULTS.leadTimeHours,
      orderCostCents: Math.round((c.orderCost ?? CATALOGUE_DEFAULTS.orderCost) * 100),
      holdingCostMillionths: Math.round(
        (c.holdingCostPerUnitDay ?? CATALOGUE_DEFAULTS.holdingCostPerUnitDay) * 1_000_000,
      ),
    };
    if (!s) {
      this.skus.set(c.sku, {
        onHand: 0,
        reserved: 0,
        threshold: c.lowStockThreshold,
        safety: c.safetyStock,
        catalogueVersion: c.version,
        level: -1,
        ...costs,
        reservedRate: 0,
        soldRate: 0,
        velocityAt: 0,
        stockoutPredicted: false,
        reorderDue: false,
        reorderPoint: 0,
        reorderQuantity: 0,
        suggestedAt: 0,
        warehouses: new Map(),
      });
      return alerts;
    }
    if (s.catalogueVersion >= c.version) return alerts;
    s.catalogueVersion = c.version;
    s.threshold = c.lowStockThreshold;
    s.safety = c.safetyStock;
    Object.assign(s, costs);
    this.follow(c.sku, s, alerts);
    return alerts;
  }

  /** Applies one command read at `offset` of `partitionKey`; redeliveries below the watermark return null. */
  apply(partitionKey: string, offset: number, c: StockCommand, now = Date.now()): ModelDecision | null {
    const t = Math.floor((c.at ?? now) / 1000);
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
        const part = this.part(s, c.warehouse ?? this.defaultWarehouse);
        // a count is the truth of its warehouse; the total moves by what it corrects
        const delta = c.kind === 'COUNTED' ? c.quantity - part.onHand : c.quantity;
        part.onHand += delta;
        s.onHand += delta;
        this.follow(c.sku, s, alerts);
        this.forecaster.follow(c.sku, s, t, alerts);
        return d('ok');
      }
      case 'PLACE': {
        if (this.orders.has(c.orderId)) return d('dup', 'ORDER_ALREADY_PLACED');
        if (c.lines.some((l) => !this.skus.has(l.sku))) return d('dlq', 'UNKNOWN_SKU');
        const short = c.lines.some((l) => {
          const s = this.skus.get(l.sku) as ModelSku;
          return l.quantity > s.onHand - s.reserved - s.safety;
        });
        const held = short ? false : this.allocateGroups(c.lines);
        if (held === false) {
          this.orders.set(c.orderId, { state: 'REJECTED', lines: c.lines, held: null });
          return d('ok', undefined, 'REJECTED');
        }
        for (const [i, l] of c.lines.entries()) {
          const s = this.skus.get(l.sku) as ModelSku;
          for (const [w, n] of held?.[i] ?? [[this.defaultWarehouse, l.quantity]])
            this.part(s, w).reserved += n;
          s.reserved += l.quantity;
          this.forecaster.demand(s, 'reserved', l.quantity, t);
          this.follow(l.sku, s, alerts);
          this.forecaster.follow(l.sku, s, t, alerts);
        }
        const placed: ModelOrder = { state: 'RESERVED', lines: c.lines, held };
        this.orders.set(c.orderId, placed);
        return { ...d('ok', undefined, 'RESERVED'), held: this.heldText(placed) };
      }
      default: {
        // PAY, SHIP, DELIVER, CANCEL, EXPIRE: what stock does depends on where the order's hold is. Goods
        // that left are deducted whatever was held; paid but not shipped and then cancelled
        // puts them back; a payment or expiry of an order that holds nothing changes nothing.
        const o = this.orders.get(c.orderId);
        if (!o) return d('dlq', 'UNKNOWN_ORDER');
        // a line without a recorded hold (rejected, shipped anyway) counts in the default warehouse
        const each = (fn: (s: ModelSku, q: number, parts: [string, number][]) => void) => {
          for (const [i, l] of o.lines.entries()) {
            const s = this.skus.get(l.sku) as ModelSku;
            fn(s, l.quantity, o.held?.[i] ?? [[this.defaultWarehouse, l.quantity]]);
            this.follow(l.sku, s, alerts);
            this.forecaster.follow(l.sku, s, t, alerts);
          }
        };
        const state = o.state;
        if (c.kind === 'PAY') {
          if (state === 'RESERVED') {
            each((s, q, parts) => {
              for (const [w, n] of parts) {
                this.part(s, w).reserved -= n;
                this.part(s, w).onHand -= n;
              }
              s.reserved -= q;
              s.onHand -= q;
              this.forecaster.demand(s, 'sold', q, t);
            });
            o.state = 'COMMITTED';
            return { ...d('ok', undefined, 'COMMITTED'), held: this.heldText(o) };
          }
          return state === 'COMMITTED' || state === 'SHIPPED' ? d('dup') : d('skip');
        }
        if (c.kind === 'SHIP' || c.kind === 'DELIVER') {
          // a delivery after the shipment is the order's normal course: nothing left to deduct
          if (state === 'SHIPPED') return c.kind === 'SHIP' ? d('dup') : d('skip');
          o.state = 'SHIPPED';
          if (state === 'COMMITTED') return d('ok', 'SHIPPED_AFTER_PAYMENT');
          each((s, q, parts) => {
            for (const [w, n] of parts) {
              if (state === 'RESERVED') this.part(s, w).reserved -= n;
              this.part(s, w).onHand -= n;
            }
            if (state === 'RESERVED') s.reserved -= q;
            s.onHand -= q;
            this.forecaster.demand(s, 'sold', q, t);
          });
          return {
            ...d('ok', state === 'RESERVED' ? undefined : 'SHIPPED_WITHOUT_HOLD', 'COMMITTED'),
            held: this.heldText(o),
          };
        }
        // CANCEL or EXPIRE
        if (state === 'RELEASED') return d('dup');
        if (state === 'RESERVED') {
          each((s, q, parts) => {
            for (const [w, n] of parts) this.part(s, w).reserved -= n;
            s.reserved -= q;
          });
          o.state = 'RELEASED';
          return { ...d('ok', undefined, 'RELEASED'), held: this.heldText(o) };
        }
        if (state === 'COMMITTED' && c.kind === 'CANCEL') {
          each((s, q, parts) => {
            for (const [w, n] of parts) this.part(s, w).onHand += n;
            s.onHand += q;
          });
          o.state = 'RELEASED';
          return { ...d('ok', 'RESTOCKED', 'RELEASED'), held: this.heldText(o) };
        }
        return d('skip');
      }
    }
  }
}
