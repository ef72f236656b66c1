import { orderEvent } from '../schemas/factories.js';
import type {
  CarrierEventType,
  OrderEvent,
  ProductUpdate,
  StockEvent,
  CarrierEvent,
} from '../schemas/types.js';

/**
 * A seeded generator of realistic upstream traffic: a catalogue, opening stock, then orders
 * moving through payment, shipment and carrier scans, with receipts, adjustments, cycle counts,
 * cancellations, abandoned (to-expire) orders and the re-sends real producers make.
 */

export type DemoMessage =
  | { topic: 'catalogue'; key: string; value: ProductUpdate }
  | { topic: 'stock'; key: string; value: StockEvent }
  | { topic: 'orders'; key: string; value: OrderEvent }
  | { topic: 'carrier'; key: string; value: CarrierEvent };

/** mulberry32: tiny, fast, good enough for traffic shapes, and reproducible from a seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface OpenOrder {
  orderId: string;
  lines: { sku: string; quantity: number }[];
  stage: 'placed' | 'paid' | 'shipped';
  trackingNumber?: string;
  carrier?: string;
  scans: CarrierEventType[];
}

const CARRIERS = ['DHL', 'UPS', 'DPD', 'GLS'];
const WAREHOUSES = ['WH-NORTH', 'WH-SOUTH'];
const CATEGORIES = ['apparel', 'electronics', 'home', 'toys', 'beauty', 'grocery'];
const HAPPY_PATH: CarrierEventType[] = [
  'LABEL_CREATED',
  'PICKED_UP',
  'IN_TRANSIT',
  'OUT_FOR_DELIVERY',
  'DELIVERED',
];
const HOUR = 3_600_000;

export interface DemoOptions {
  seed: number;
  skus: number;
  now?: () => number;
}

export class DemoTraffic {
  private readonly rnd: () => number;
  private readonly now: () => number;
  private readonly open: OpenOrder[] = [];
  private readonly recent: DemoMessage[] = [];
  /** What the demo believes is on each warehouse's shelf ("sku|warehouse"), so that cycle counts report plausible figures. */
  private readonly shelf = new Map<string, number>();
  private seq = 0;
  private orderSeq = 0;

  constructor(private readonly options: DemoOptions) {
    this.rnd = seededRandom(options.seed);
    this.now = options.now ?? Date.now;
  }

  sku(i: number): string {
    return `SKU-${String(i).padStart(6, '0')}`;
  }

  private int(min: number, max: number): number {
    return min + Math.floor(this.rnd() * (max - min + 1));
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.rnd() * items.length)] as T;
  }

  /** Popular SKUs sell far more often than the long tail, as in real shops. */
  private popularSku(): string {
    const skewed = Math.floor(Math.pow(this.rnd(), 2.5) * this.options.skus);
    return this.sku(skewed);
  }

  private eventId(kind: string): string {
    this.seq += 1;
    return `demo-${this.options.seed}-${kind}-${this.seq}`;
  }

  /** Catalogue and opening stock for every SKU: what a shop has before the first order. */
  *opening(): Generator<DemoMessage> {
    const t = this.now();
    for (let i = 0; i < this.options.skus; i++) {
      const sku = this.sku(i);
      yield {
        topic: 'catalogue',
        key: sku,
        value: {
          sku,
          version: 1,
          name: `Demo product ${i}`,
          category: this.pick(CATEGORIES),
          lowStockThreshold: this.int(5, 20),
          safetyStock: this.int(0, 3),
          active: true,
          leadTimeHours: this.int(1, 12),
          orderCost: this.int(20, 200),
          holdingCostPerUnitDay: this.pick([0.02, 0.05, 0.1, 0.25]),
          updatedAt: t,
        },
      };
      const opening = this.int(20, 200);
      yield this.stock(sku, 'RECEIVED', opening, 'opening stock');
    }
  }

  private stock(
    sku: string,
    type: StockEvent['type'],
    quantity: number,
    reason: string | null,
    warehouse = this.pick(WAREHOUSES),
  ): DemoMessage {
    const shelf = `${sku}|${warehouse}`;
    const before = this.shelf.get(shelf) ?? 0;
    this.shelf.set(shelf, type === 'COUNTED' ? quantity : Math.max(0, before + quantity));
    return {
      topic: 'stock',
      key: sku,
      value: {
        eventId: this.eventId('stock'),
        sku,
        type,
        quantity,
        occurredAt: this.now(),
        reason,
        warehouseId: warehouse,
      },
    };
  }

  private order(orderId: string, type: OrderEvent['type'], extra: Partial<OrderEvent> = {}): DemoMessage {
    return {
      topic: 'orders',
      key: orderId,
      value: orderEvent({ eventId: this.eventId('order'), orderId, type, occurredAt: this.now(), ...extra }),
    };
  }

  private placeOrder(): DemoMessage {
    this.orderSeq += 1;
    const orderId = `ORD-${this.options.seed}-${this.orderSeq}`;
    const lineCount = this.rnd() < 0.6 ? 1 : this.int(2, 4);
    const skus = new Set<string>();
    while (skus.size < lineCount) skus.add(this.popularSku());
    const lines = [...skus].map((sku) => ({
      sku,
      quantity: this.int(1, 3),
      unitPriceMinor: this.int(199, 19999),
    }));
    this.open.push({ orderId, stage: 'placed', scans: [], lines });
    return this.order(orderId, 'PLACED', {
      customerId: `CUST-${this.int(1, 5000)}`,
      currency: 'EUR',
      lines,
    });
  }

  private advanceOrder(): DemoMessage | null {
    if (this.open.length === 0) return null;
    // customers pay and carriers scan within minutes: the oldest open orders move first, so an
    // order's life stays short at any rate instead of growing with the backlog
    const index = Math.floor(this.rnd() * Math.min(this.open.length, 40));
    const o = this.open[index] as OpenOrder;
    const done = () => this.open.splice(index, 1);
    if (o.stage === 'placed') {
      const r = this.rnd();
      if (r < 0.08) {
        done();
        return this.order(o.orderId, 'CANCELLED', { reason: 'customer changed their mind' });
      }
      if (r < 0.14) {
        // abandoned checkout: never paid, left for the expiry deadline
        done();
        return null;
      }
      o.stage = 'paid';
      // paid orders leave the fuller shelf (roughly: the demo knows neither which orders were
      // rejected nor which warehouse served them)
      for (const l of o.lines) {
        const [fuller] = WAREHOUSES.map((w) => `${l.sku}|${w}`).sort(
          (a, b) => (this.shelf.get(b) ?? 0) - (this.shelf.get(a) ?? 0),
        );
        if (fuller) this.shelf.set(fuller, Math.max(0, (this.shelf.get(fuller) ?? 0) - l.quantity));
      }
      return this.order(o.orderId, 'PAID', { paymentId: `PAY-${o.orderId}` });
    }
    if (o.stage === 'paid') {
      o.stage = 'shipped';
      o.carrier = this.pick(CARRIERS);
      o.trackingNumber = `${o.carrier}-${o.orderId}`;
      return this.order(o.orderId, 'SHIPPED', {
        trackingNumber: o.trackingNumber,
        carrier: o.carrier,
        promisedDeliveryAt: this.now() + this.int(24, 96) * HOUR,
      });
    }
    const next = this.nextScan(o);
    if (next === 'DELIVERED' || next === 'LOST') done();
    return {
      topic: 'carrier',
      key: o.trackingNumber as string,
      value: {
        eventId: this.eventId('scan'),
        trackingNumber: o.trackingNumber as string,
        carrier: o.carrier as string,
        orderId: o.orderId,
        type: next,
        occurredAt: this.now(),
        location: this.pick(['Hamburg', 'Berlin', 'Munich', 'Cologne', 'Leipzig']),
        // the label carries the promise; now and then a short one, so the demo shows a delay alert
        promisedDeliveryAt:
          next === 'LABEL_CREATED'
            ? this.now() + (this.rnd() < 0.01 ? 30_000 : this.int(24, 96) * HOUR)
            : null,
        detail: next === 'EXCEPTION' ? 'address not found' : null,
      },
    };
  }

  private nextScan(o: OpenOrder): CarrierEventType {
    const last = o.scans[o.scans.length - 1];
    let next: CarrierEventType;
    if (last === 'EXCEPTION') next = 'IN_TRANSIT';
    else if (last === 'IN_TRANSIT' && this.rnd() < 0.03) next = 'EXCEPTION';
    else if (last === 'IN_TRANSIT' && this.rnd() < 0.005) next = 'LOST';
    else {
      const happy = o.scans.filter((s) => HAPPY_PATH.includes(s));
      next = HAPPY_PATH[happy.length] ?? 'DELIVERED';
    }
    o.scans.push(next);
    return next;
  }

  /** The next message of the steady mix. */
  next(): DemoMessage {
    let msg: DemoMessage | null = null;
    while (!msg) {
      const r = this.rnd();
      if (r < 0.02 && this.recent.length)
        msg = this.pick(this.recent); // upstream re-send
      // about eight advances per order: payment, shipment and up to six scans
      else if (r < 0.11) msg = this.placeOrder();
      else if (r < 0.86) msg = this.advanceOrder();
      else if (r < 0.94) msg = this.stock(this.popularSku(), 'RECEIVED', this.int(10, 100), 'purchase order');
      else if (r < 0.98)
        msg = this.stock(this.popularSku(), 'ADJUSTED', -this.int(1, 3), this.pick(['damaged', 'shrinkage']));
      else {
        // a count of one warehouse finds what its shelf should hold, now and then a unit or two
        // less (shrinkage)
        const sku = this.popularSku();
        const warehouse = this.pick(WAREHOUSES);
        const expected = this.shelf.get(`${sku}|${warehouse}`) ?? 0;
        const shrink = this.rnd() < 0.3 ? this.int(1, 2) : 0;
        msg = this.stock(sku, 'COUNTED', Math.max(0, expected - shrink), 'cycle count', warehouse);
      }
    }
    this.recent.push(msg);
    if (this.recent.length > 50) this.recent.shift();
    return msg;
  }

  /** Events produced on the order topic that the demo turned into shipments. */
  get openOrders(): number {
    return this.open.length;
  }
}
