import { fileURLToPath } from 'node:url';
import { callScript, defineScripts, ScriptKeys, type RedisClient } from '../../runtime/lua-scripts.js';
import type { OrderCause, OrderState } from './transitions.js';

const luaDir = fileURLToPath(new URL('./lua/', import.meta.url));
const SCRIPTS = ['apply-order-events', 'claim-due-expiries'] as const;

export interface OrderInput {
  eventId: string;
  orderId: string;
  cause: OrderCause;
  occurredAt: number;
  trackingNumber?: string | null;
  carrier?: string | null;
  reason?: string | null;
}

export interface Transition {
  n: number;
  from: OrderState | null;
  to: OrderState;
  cause: OrderCause;
  /** the event (or reservation result) id that caused it */
  src: string;
  at: number;
  why: string | null;
}

export type OutcomeStatus = 'ok' | 'noop' | 'defer' | 'dlq';

export interface OrderOutcome {
  eventId: string;
  /** 'dup': seen before; `first` is what it did then and `transitions` what it made */
  status: OutcomeStatus | 'dup';
  first: OutcomeStatus;
  why: string | null;
  transitions: Transition[];
  /** waiting events the order's new state refused, e.g. PAID_REJECTED: someone must refund */
  alerts: { kind: string; src: string }[];
}

export interface OrderRecord {
  orderId: string;
  state: OrderState;
  paymentDeadline: number | null;
  /** events that arrived before the reservation, applied once it is decided */
  waiting: { id: string; c: string }[];
  trackingNumber: string | null;
  carrier: string | null;
  history: Transition[];
}

interface RawOutcome {
  id: string;
  st: OutcomeStatus | 'dup';
  st_first?: OutcomeStatus;
  why?: string | null;
  tr: Transition[] | Record<string, never>;
  alerts?: { kind: string; src: string }[] | Record<string, never>;
}

export interface OrderStoreOptions {
  keyTag: string;
  paymentDeadlineMs: number;
  finalOrderTtlSeconds: number;
}

/** Order state in Redis, changed only through the Lua scripts in ./lua. */
export class OrderStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly options: OrderStoreOptions,
  ) {
    defineScripts(redis, luaDir, SCRIPTS);
  }

  private key(kind: 'o' | 'h' | 'e', orderId: string): string {
    return `{${this.options.keyTag}}:${kind}:${orderId}`;
  }

  get deadlinesKey(): string {
    return `{${this.options.keyTag}}:deadlines`;
  }

  async apply(events: OrderInput[], now = Date.now()): Promise<OrderOutcome[]> {
    if (events.length === 0) return [];
    const keys = new ScriptKeys();
    keys.ref(this.deadlinesKey); // index 1: the script's `dz`
    const ev = events.map((e) => ({
      id: e.eventId,
      oid: e.orderId,
      c: e.cause,
      at: e.occurredAt,
      o: keys.ref(this.key('o', e.orderId)),
      h: keys.ref(this.key('h', e.orderId)),
      e: keys.ref(this.key('e', e.orderId)),
      ...(e.trackingNumber ? { trk: e.trackingNumber, car: e.carrier ?? '' } : {}),
      ...(e.reason ? { why: e.reason } : {}),
    }));
    const raw = (await callScript(this.redis, 'apply-order-events', keys.keys, [
      JSON.stringify({ dz: 1, ev }),
      now,
      this.options.paymentDeadlineMs,
      this.options.finalOrderTtlSeconds,
    ])) as string;
    return (JSON.parse(raw) as RawOutcome[]).map((r) => ({
      eventId: r.id,
      status: r.st,
      first: r.st_first ?? (r.st as OutcomeStatus),
      why: r.why ?? null,
      // cjson encodes an empty table as an object
      transitions: Array.isArray(r.tr) ? r.tr : [],
      alerts: Array.isArray(r.alerts) ? r.alerts : [],
    }));
  }

  /** Orders past their payment deadline, leased to this caller for `leaseMs`. */
  async claimDueExpiries(
    now: number,
    limit: number,
    leaseMs: number,
  ): Promise<{ orderId: string; due: number }[]> {
    const flat = (await callScript(
      this.redis,
      'claim-due-expiries',
      [this.deadlinesKey],
      [now, limit, leaseMs],
    )) as string[];
    const out: { orderId: string; due: number }[] = [];
    for (let i = 0; i < flat.length; i += 2)
      out.push({ orderId: flat[i] as string, due: Number(flat[i + 1]) });
    return out;
  }

  async get(orderId: string): Promise<OrderRecord | null> {
    const [fields, history] = await Promise.all([
      this.redis.hgetall(this.key('o', orderId)),
      this.redis.lrange(this.key('h', orderId), 0, -1),
    ]);
    if (!fields.st) return null;
    return {
      orderId,
      state: fields.st as OrderState,
      paymentDeadline: fields.dl ? Number(fields.dl) : null,
      waiting: fields.pq ? (JSON.parse(fields.pq) as { id: string; c: string }[]) : [],
      trackingNumber: fields.trk ?? null,
      carrier: fields.car || null,
      history: history.map((h) => JSON.parse(h) as Transition),
    };
  }
}
