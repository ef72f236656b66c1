/**
 * The fault run's independent oracle. It reads the INPUT topics (catalogue, stock, orders,
 * carrier) and computes what the pipeline's state must be, with its own statement of the rules
 * (it imports no rule, table or model of the processors: only the Avro codec and a topic
 * reader). Then it compares with what is in Redis.
 *
 * What the inputs alone decide is checked exactly: every stock movement, every hold, on hand for
 * SKUs never cycle-counted, order fates, shipment statuses, which orders must be rejected
 * whatever happens (a line larger than all the stock there ever was). Whether an order was
 * reserved or rejected can legitimately depend on the order in which partitions of different
 * topics arrived (a receipt on the stock topic against a placement on the orders topic): for
 * those the decision in force (the last reservation result published for the order; a
 * correction replaces the original) is taken as given and everything that must hold for ANY
 * arrival order is checked: the holds are exactly the lines of the orders decided reserved and
 * still held, on hand equals receipts and adjustments minus what left, nothing is oversold.
 * A cycle count sets an absolute figure whose place among concurrent orders only the processor
 * saw: for counted SKUs on hand is checked against the range every arrival order allows.
 */
import type { Kafka } from 'kafkajs';
import type { InputMessage } from '../../runtime/dead-letter.js';
import { readTopicToEnd } from '../../runtime/topic-reader.js';
import type { AvroCodec } from '../../schemas/codec.js';
import type {
  CarrierEvent,
  OrderEvent,
  ProductUpdate,
  ReservationResult,
  StockEvent,
} from '../../schemas/types.js';

/** What the oracle needs to read of the actual state: every read the pipeline offers. */
export interface ActualState {
  sku(sku: string): Promise<{ onHand: number; reserved: number; version: number } | null>;
  /** the stock processor's record of an order: RESERVED, REJECTED, COMMITTED, SHIPPED, RELEASED */
  hold(orderId: string): Promise<{ state: string; lines: { sku: string; quantity: number }[] } | null>;
  /** the order processor's state and transition history */
  order(
    orderId: string,
  ): Promise<{ state: string; history: { n: number; src: string; to: string }[] } | null>;
  shipment(trackingNumber: string): Promise<{ status: string } | null>;
}

export interface OracleReport {
  inputs: { stockEvents: number; orderEvents: number; carrierEvents: number; orders: number; skus: number };
  /** exact or range checks on SKUs that failed */
  stockDifferences: { sku: string; field: string; expected: string; actual: string }[];
  /** SKUs with negative availability although nothing physical removed units */
  oversold: string[];
  /** orders whose hold (stock processor) is not what the inputs and the decision give */
  holdDifferences: { orderId: string; expected: string; actual: string }[];
  /** orders whose state (order processor) is not one any arrival order allows */
  orderDifferences: { orderId: string; allowed: string[]; actual: string }[];
  /** orders a line of which could never be covered, yet reserved */
  impossibleReservations: string[];
  /** valid placed orders with no decision or no state */
  ordersLost: string[];
  /** orders decided twice without a correction, or with a transition applied twice */
  ordersDoubleApplied: string[];
  /** orders decided differently after Redis lost writes (their corrections) */
  corrections: number;
  /** decisions whose outcome depended on arrival order (checked by invariants, not exactly) */
  arrivalDependentDecisions: number;
  shipmentDifferences: { trackingNumber: string; expected: string; actual: string }[];
  /** SKUs whose last changelog record is not their state */
  changelogDifferences: { sku: string; last: string; state: string }[];
  /** byReason: originals per `processor|topic|reason`, with the newest detail of each */
  deadLetters: {
    originals: number;
    records: number;
    byReason: Record<string, { originals: number; detail: string }>;
    /**
     * Order events dead-lettered as "no such order", by where they stand in the orders topic:
     * before their order's first valid PLACED (upstream wrote them out of order: a producer
     * that re-sent a partly failed batch lets events derived from its first attempt overtake
     * it), of orders never validly placed, or after it (which only a fault of ours explains).
     */
    unknownOrder: {
      beforePlacement: number;
      neverPlaced: number;
      afterPlacement: number;
      /** the first few dead letters after their placement (five per processor), with their order's events in log order */
      afterExamples: { dlq: string; orderId: string; events: string[] }[];
    };
  };
}

type Hold = 'held' | 'rejected' | 'paid' | 'shipped' | 'released';

interface Placed {
  event: OrderEvent;
  /** where that placement stands in the orders topic */
  at: { partition: number; offset: number };
  /** every later event of the order, in topic order, once per event id */
  events: OrderEvent[];
}

const CARRIER_RANK: Record<string, number> = {
  LABEL_CREATED: 1,
  PICKED_UP: 2,
  IN_TRANSIT: 3,
  EXCEPTION: 3,
  OUT_FOR_DELIVERY: 4,
  LOST: 5,
  DELIVERED: 6,
  RETURNED: 7,
};

async function readAll<T>(
  kafka: Kafka,
  topic: string,
  decode: (m: InputMessage) => Promise<T | null>,
): Promise<{ m: InputMessage; v: T }[]> {
  const out: { m: InputMessage; v: T }[] = [];
  await readTopicToEnd(
    kafka,
    topic,
    async (m) => {
      const v = await decode(m).catch(() => null);
      if (v !== null) out.push({ m, v });
    },
    600_000,
  );
  return out.sort((a, b) => a.m.partition - b.m.partition || a.m.offset - b.m.offset);
}

/** The oracle's own reading of what a valid stock movement is. */
function validStock(e: StockEvent): boolean {
  if (!e.eventId || !e.sku || !Number.isSafeInteger(e.quantity)) return false;
  if (e.type === 'RECEIVED') return e.quantity > 0;
  if (e.type === 'ADJUSTED') return e.quantity !== 0;
  return e.quantity >= 0;
}

function validPlacement(e: OrderEvent): boolean {
  if (!e.eventId || !e.orderId || e.lines.length === 0) return false;
  const skus = new Set(e.lines.map((l) => l.sku));
  return (
    skus.size === e.lines.length && e.lines.every((l) => Number.isSafeInteger(l.quantity) && l.quantity > 0)
  );
}

/** Where an order's stock ends, given its decision and its later events: goods that left count. */
function foldHold(decision: 'RESERVED' | 'REJECTED', events: readonly OrderEvent[]) {
  let hold: Hold = decision === 'RESERVED' ? 'held' : 'rejected';
  let onHand = 0; // per unit of each line
  let unheld = false; // goods left that nothing held: below zero is then physical, not oversold
  for (const e of events) {
    if (e.type === 'PAID' && hold === 'held') {
      hold = 'paid';
      onHand -= 1;
    } else if (e.type === 'SHIPPED' || e.type === 'DELIVERED') {
      if (hold === 'held' || hold === 'rejected' || hold === 'released') onHand -= 1;
      if (hold === 'rejected' || hold === 'released') unheld = true;
      if (hold !== 'shipped') hold = 'shipped';
    } else if (e.type === 'CANCELLED') {
      if (hold === 'paid') onHand += 1;
      if (hold === 'held' || hold === 'paid') hold = 'released';
    } else if (e.type === 'EXPIRED' && hold === 'held') hold = 'released';
  }
  return { hold, onHand, unheld };
}

/** The order processor's state: every state some arrival order of decision and events allows. */
function allowedOrderStates(decision: 'RESERVED' | 'REJECTED', events: readonly OrderEvent[]): Set<string> {
  const fold = (start: string, list: readonly OrderEvent[]) => {
    let st = start;
    for (const e of list) {
      const next: Record<string, Partial<Record<OrderEvent['type'], string>>> = {
        RESERVED: {
          PAID: 'PAID',
          SHIPPED: 'SHIPPED',
          DELIVERED: 'DELIVERED',
          CANCELLED: 'CANCELLED',
          EXPIRED: 'EXPIRED',
        },
        PAID: { SHIPPED: 'SHIPPED', DELIVERED: 'DELIVERED', CANCELLED: 'CANCELLED' },
        SHIPPED: { DELIVERED: 'DELIVERED' },
      };
      st = next[st]?.[e.type] ?? st;
    }
    return st;
  };
  const allowed = new Set([fold(decision, events)]);
  // a cancellation that nothing waits before may be applied before the decision arrives: then
  // the order is cancelled whatever the decision says
  const first = events.find((e) => e.type !== 'PLACED');
  if (first?.type === 'CANCELLED') allowed.add('CANCELLED');
  return allowed;
}

const HOLD_NAMES: Record<Hold, string> = {
  held: 'RESERVED',
  rejected: 'REJECTED',
  paid: 'COMMITTED',
  shipped: 'SHIPPED',
  released: 'RELEASED',
};

/** Which order states one fate allows beside a stock hold. */
const FATE: Record<Hold, string[]> = {
  held: ['RESERVED'],
  rejected: ['REJECTED', 'CANCELLED'],
  paid: ['PAID'],
  // goods left: shipped or delivered, or an order that had ended and is flagged
  shipped: ['SHIPPED', 'DELIVERED', 'REJECTED', 'CANCELLED', 'EXPIRED'],
  released: ['CANCELLED', 'EXPIRED'],
};

export async function checkAgainstInputs(
  kafka: Kafka,
  codec: AvroCodec,
  prefix: string,
  actual: ActualState,
): Promise<OracleReport> {
  const catalogue = await readAll(kafka, `${prefix}catalogue`, (m) => codec.decode('catalogue', m.value));
  const stockIn = await readAll(kafka, `${prefix}stock`, (m) => codec.decode('stock', m.value));
  const ordersIn = await readAll(kafka, `${prefix}orders`, (m) => codec.decode('orders', m.value));
  const carrierIn = await readAll(kafka, `${prefix}carrier`, (m) => codec.decode('carrier', m.value));
  const results = await readAll(kafka, `${prefix}reservation-results`, (m) =>
    codec.decode('reservation-results', m.value),
  );
  const report: OracleReport = {
    inputs: {
      stockEvents: stockIn.length,
      orderEvents: ordersIn.length,
      carrierEvents: carrierIn.length,
      orders: 0,
      skus: 0,
    },
    stockDifferences: [],
    oversold: [],
    holdDifferences: [],
    orderDifferences: [],
    impossibleReservations: [],
    ordersLost: [],
    ordersDoubleApplied: [],
    corrections: 0,
    arrivalDependentDecisions: 0,
    shipmentDifferences: [],
    changelogDifferences: [],
    deadLetters: {
      originals: 0,
      records: 0,
      byReason: {},
      unknownOrder: { beforePlacement: 0, neverPlaced: 0, afterPlacement: 0, afterExamples: [] },
    },
  };

  const products = new Map<string, ProductUpdate>();
  for (const { v } of catalogue) {
    const prev = products.get(v.sku);
    if (!prev || prev.version < v.version) products.set(v.sku, v);
  }
  report.inputs.skus = products.size;

  // stock movements per SKU, once per event id, in their partition's order (keyed by SKU)
  const seenStock = new Set<string>();
  const movements = new Map<string, StockEvent[]>();
  for (const { v } of stockIn) {
    if (!validStock(v) || !products.has(v.sku) || seenStock.has(v.eventId)) continue;
    seenStock.add(v.eventId);
    movements.set(v.sku, [...(movements.get(v.sku) ?? []), v]);
  }

  // orders: the first valid placement per order id, and its later events once per event id.
  // An event read before its order's placement is refused (no such order) and not remembered:
  // the same event id sent again once the order exists (an upstream re-send, logistics after a
  // rollback) is applied then.
  const placeable = (v: OrderEvent) => validPlacement(v) && v.lines.every((l) => products.has(l.sku));
  const placed = new Map<string, Placed>();
  const seenOrderEvents = new Set<string>();
  for (const { v, m } of ordersIn) {
    if (seenOrderEvents.has(v.eventId)) continue;
    const known = placed.get(v.orderId);
    if (v.type === 'PLACED') {
      seenOrderEvents.add(v.eventId);
      if (!known && placeable(v)) {
        placed.set(v.orderId, { event: v, events: [], at: { partition: m.partition, offset: m.offset } });
      }
    } else if (known) {
      seenOrderEvents.add(v.eventId);
      known.events.push(v);
    }
  }
  report.inputs.orders = placed.size;

  // the decision in force per order: the last reserve/reject result (a correction replaces it)
  const decisions = new Map<string, ReservationResult>();
  const firstDecisions = new Map<string, Set<string>>();
  const corrected = new Set<string>();
  for (const { v } of results) {
    if (v.outcome !== 'RESERVED' && v.outcome !== 'REJECTED') continue;
    if (v.corrects) {
      report.corrections += 1;
      corrected.add(v.orderId);
    } else firstDecisions.set(v.orderId, (firstDecisions.get(v.orderId) ?? new Set()).add(v.resultId));
    decisions.set(v.orderId, v);
  }

  // the most stock a SKU could ever have had: a line above it can only be rejected
  const ceiling = new Map<string, number>();
  for (const [sku, list] of movements) {
    let max = 0;
    let running = 0;
    let all = 0;
    for (const e of list) {
      running = e.type === 'COUNTED' ? e.quantity : running + e.quantity;
      all += e.type === 'COUNTED' ? e.quantity : Math.max(0, e.quantity);
      max = Math.max(max, running);
    }
    ceiling.set(sku, Math.max(max, all));
  }

  const expectedReserved = new Map<string, number>();
  const orderOnHand = new Map<string, { down: number; up: number; net: number }>();
  const physicallyRemoved = new Set<string>();
  for (const [orderId, p] of placed) {
    const decision = decisions.get(orderId);
    const firsts = firstDecisions.get(orderId)?.size ?? 0;
    if (!decision) {
      report.ordersLost.push(orderId);
      continue;
    }
    if (firsts > 1) report.ordersDoubleApplied.push(orderId);
    const impossible = p.event.lines.some((l) => l.quantity > (ceiling.get(l.sku) ?? 0));
    if (impossible && decision.outcome === 'RESERVED') report.impossibleReservations.push(orderId);
    if (!impossible) report.arrivalDependentDecisions += 1;

    const { hold, onHand, unheld } = foldHold(decision.outcome as 'RESERVED' | 'REJECTED', p.events);
    for (const l of p.event.lines) {
      if (hold === 'held') expectedReserved.set(l.sku, (expectedReserved.get(l.sku) ?? 0) + l.quantity);
      const o = orderOnHand.get(l.sku) ?? { down: 0, up: 0, net: 0 };
      o.net += onHand * l.quantity;
      // every unit that left or came back at some point, for the counted SKUs' range
      for (const e of p.events) {
        if (e.type === 'PAID' || e.type === 'SHIPPED' || e.type === 'DELIVERED') o.down += l.quantity;
        if (e.type === 'CANCELLED') o.up += l.quantity;
      }
      orderOnHand.set(l.sku, o);
      if (unheld) physicallyRemoved.add(l.sku);
    }
    const actualHold = await actual.hold(orderId);
    if ((actualHold?.state ?? '(missing)') !== HOLD_NAMES[hold]) {
      report.holdDifferences.push({
        orderId,
        expected: HOLD_NAMES[hold],
        actual: actualHold?.state ?? '(missing)',
      });
    }
    const actualOrder = await actual.order(orderId);
    if (!actualOrder) {
      report.ordersLost.push(orderId);
      continue;
    }
    const allowed = allowedOrderStates(decision.outcome as 'RESERVED' | 'REJECTED', p.events);
    if (corrected.has(orderId)) {
      // the order side acted on the first decision before the correction: it keeps what
      // happened (paid, shipped) and flags the correction, so either decision's fate is allowed
      for (const other of ['RESERVED', 'REJECTED'] as const) {
        for (const st of allowedOrderStates(other, p.events)) allowed.add(st);
      }
      if (!allowed.has(actualOrder.state)) {
        report.orderDifferences.push({ orderId, allowed: [...allowed], actual: actualOrder.state });
      }
    } else if (!allowed.has(actualOrder.state) || !FATE[hold].includes(actualOrder.state)) {
      report.orderDifferences.push({ orderId, allowed: [...allowed], actual: actualOrder.state });
    }
    const ns = actualOrder.history.map((t) => t.n);
    const applied = actualOrder.history.map((t) => `${t.src}>${t.to}`);
    if (ns.some((n, i) => n !== i + 1) || new Set(applied).size !== applied.length) {
      report.ordersDoubleApplied.push(orderId);
    }
  }

  for (const sku of products.keys()) {
    const state = await actual.sku(sku);
    const list = movements.get(sku) ?? [];
    const diff = (field: string, expected: string, got: string) =>
      report.stockDifferences.push({ sku, field, expected, actual: got });
    const reserved = expectedReserved.get(sku) ?? 0;
    if (!state) {
      if (list.length || reserved) diff('exists', 'true', 'false');
      continue;
    }
    if (state.reserved !== reserved) diff('reserved', String(reserved), String(state.reserved));
    const orders = orderOnHand.get(sku) ?? { down: 0, up: 0, net: 0 };
    const counted = list.some((e) => e.type === 'COUNTED');
    if (!counted) {
      const expected = list.reduce((n, e) => n + e.quantity, 0) + orders.net;
      if (state.onHand !== expected) diff('onHand', String(expected), String(state.onHand));
    } else {
      // A count sets its warehouse's on hand: per warehouse, its last count and what came after
      // (all of it where none was counted). Which warehouse an order took from, and whether
      // before or after a count, is the processor's to know: any split is possible.
      const byWarehouse = new Map<string, StockEvent[]>();
      for (const e of list) {
        const w = e.warehouseId ?? '';
        byWarehouse.set(w, [...(byWarehouse.get(w) ?? []), e]);
      }
      let base = 0;
      for (const events of byWarehouse.values()) {
        const last = events.map((e) => e.type).lastIndexOf('COUNTED');
        base += events.slice(Math.max(0, last)).reduce((n, e) => n + e.quantity, 0);
      }
      if (state.onHand < base - orders.down || state.onHand > base + orders.up) {
        diff(
          'onHand (cycle-counted: range)',
          `${base - orders.down}..${base + orders.up}`,
          String(state.onHand),
        );
      }
    }
    const shrinks =
      counted || list.some((e) => e.type === 'ADJUSTED' && e.quantity < 0) || physicallyRemoved.has(sku);
    if (!shrinks && state.onHand - state.reserved < 0) report.oversold.push(sku);
  }

  // shipments: the status the set of carrier events gives, whatever their order
  const shipments = new Map<string, CarrierEvent[]>();
  const seenScans = new Set<string>();
  for (const { v } of carrierIn) {
    if (seenScans.has(v.eventId)) continue;
    seenScans.add(v.eventId);
    shipments.set(v.trackingNumber, [...(shipments.get(v.trackingNumber) ?? []), v]);
  }
  for (const [trk, scans] of shipments) {
    const delivered = scans.some((s) => s.type === 'DELIVERED');
    const latest = scans
      .filter((s) => s.type !== 'DELIVERED' && s.type !== 'RETURNED')
      .sort(
        (a, b) =>
          a.occurredAt - b.occurredAt ||
          (CARRIER_RANK[a.type] ?? 0) - (CARRIER_RANK[b.type] ?? 0) ||
          (a.eventId < b.eventId ? -1 : 1),
      )
      .at(-1);
    const expected = delivered ? 'DELIVERED' : (latest?.type ?? '(none)');
    const got = (await actual.shipment(trk))?.status ?? '(missing)';
    if (got !== expected) report.shipmentDifferences.push({ trackingNumber: trk, expected, actual: got });
  }

  // the changelog's last record per SKU is the SKU's state
  const lastLevel = new Map<string, { onHand: number; reserved: number; version: number }>();
  await readTopicToEnd(
    kafka,
    `${prefix}stock-levels`,
    async (m) => {
      const l = await codec.decode('stock-levels', m.value).catch(() => null);
      if (l) lastLevel.set(l.sku, l);
    },
    600_000,
  );
  for (const [sku, l] of lastLevel) {
    const state = await actual.sku(sku);
    const s = state ? `${state.onHand}/${state.reserved}/v${state.version}` : '(missing)';
    const last = `${l.onHand}/${l.reserved}/v${l.version}`;
    if (s !== last) report.changelogDifferences.push({ sku, last, state: s });
  }

  // which order each input event belongs to, by its place in the orders topic
  const orderOfEvent = new Map<string, string>();
  for (const { v, m } of ordersIn) orderOfEvent.set(`${m.partition}:${m.offset}`, v.orderId);

  // dead letters are one per original message, however often a crash re-published them
  const origins = new Set<string>();
  for (const topic of ['stock.dlq', 'orders.dlq', 'carrier.dlq', 'catalogue.dlq']) {
    await readTopicToEnd(kafka, `${prefix}${topic}`, (m) => {
      report.deadLetters.records += 1;
      const h = (k: string) => m.headers[k]?.toString() ?? '';
      const origin = `${h('dlq.processor')}|${h('dlq.original.topic')}:${h('dlq.original.partition')}:${h('dlq.original.offset')}`;
      if (origins.has(origin)) return;
      origins.add(origin);
      const reason = `${h('dlq.processor')}|${h('dlq.original.topic')}|${h('dlq.reason')}`;
      const entry = (report.deadLetters.byReason[reason] ??= { originals: 0, detail: '' });
      entry.originals += 1;
      entry.detail = h('dlq.detail').slice(0, 300);
      const why = h('dlq.reason');
      if (
        h('dlq.original.topic').endsWith('orders') &&
        (why === 'ORDER_UNKNOWN' || why === 'UNKNOWN_ORDER')
      ) {
        const partition = Number(h('dlq.original.partition'));
        const offset = Number(h('dlq.original.offset'));
        const orderId = orderOfEvent.get(`${partition}:${offset}`);
        const placedAt = orderId === undefined ? undefined : placed.get(orderId)?.at;
        const u = report.deadLetters.unknownOrder;
        if (placedAt === undefined) u.neverPlaced += 1;
        else if (placedAt.partition === partition && placedAt.offset > offset) u.beforePlacement += 1;
        else {
          u.afterPlacement += 1;
          // up to five per processor: the two processors' dead letters interleave in the topic
          const mine = u.afterExamples.filter((x) => x.dlq.startsWith(`${h('dlq.processor')} `)).length;
          if (mine < 5 && orderId !== undefined) {
            u.afterExamples.push({
              dlq: `${h('dlq.processor')} ${why} ${partition}:${offset}: ${h('dlq.detail').slice(0, 200)}`,
              orderId,
              events: ordersIn
                .filter((x) => x.v.orderId === orderId)
                .map(({ v, m }) => `${m.partition}:${m.offset} ${v.type} ${v.eventId}`),
            });
          }
        }
      }
    });
  }
  report.deadLetters.originals = origins.size;
  return report;
}

/** True when the oracle found nothing wrong. */
export function oracleClean(r: OracleReport): boolean {
  return (
    r.stockDifferences.length === 0 &&
    r.oversold.length === 0 &&
    r.holdDifferences.length === 0 &&
    r.orderDifferences.length === 0 &&
    r.impossibleReservations.length === 0 &&
    r.ordersLost.length === 0 &&
    r.ordersDoubleApplied.length === 0 &&
    r.shipmentDifferences.length === 0 &&
    r.changelogDifferences.length === 0
  );
}
