import { fileURLToPath } from 'node:url';
import { positionArgs, throwIfPositionsWentBack, type ChunkPosition } from '../../runtime/chunk-positions.js';
import { callScriptDurably, type DurabilityPolicy } from '../../runtime/durability.js';
import { callScript, defineScripts, ScriptKeys, type RedisClient } from '../../runtime/lua-scripts.js';
import type { AppliedPosition } from '../../runtime/processor-runner.js';
import { luaTransitions, type OrderCause, type OrderState } from './transitions.js';

const luaDir = fileURLToPath(new URL('./lua/', import.meta.url));
const SCRIPTS = ['apply-order-events', 'claim-due-expiries', 'claim-stale-orders', 'archive-order'] as const;

/** Most events stored per order (its de-duplication record); later ones are dead-lettered. */
export const MAX_EVENTS_PER_ORDER = 256;

export interface OrderInput {
  eventId: string;
  orderId: string;
  cause: OrderCause;
  occurredAt: number;
  trackingNumber?: string | null;
  carrier?: string | null;
  reason?: string | null;
  /**
   * "<topic>:<partition>:<offset>" of the message that brought it: a dead letter for an order
   * that did not exist yet is replayed for the same message and decided again for another one.
   */
  source?: string;
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

export type OutcomeStatus = 'ok' | 'noop' | 'defer' | 'flag' | 'dlq';

export interface OrderOutcome {
  eventId: string;
  /** 'dup': seen before; `first` is what it did then and `transitions` what it made */
  status: OutcomeStatus | 'dup';
  first: OutcomeStatus;
  why: string | null;
  transitions: Transition[];
  /** anomalies to raise, e.g. SHIPPED_UNPAID, PAID_CANCELLED, and the event behind each */
  alerts: { kind: string; src: string }[];
}

export interface OrderRecord {
  orderId: string;
  state: OrderState;
  paymentDeadline: number | null;
  /**
   * events that arrived before the reservation, applied once it is decided; for a rejected
   * order, the payment, shipment, delivery or cancellation it had anyway, replayed should a
   * correction reserve it after all
   */
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
  /** a placed, paid or shipped order with no event for this long is stale (archived, alert) */
  staleAfterMs?: number;
  durability?: DurabilityPolicy;
}

/** A chunk's partition position, recorded with its events. */
/** Order state in Redis, changed only through the Lua scripts in ./lua. */
export class OrderStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly options: OrderStoreOptions,
  ) {
    defineScripts(redis, luaDir, SCRIPTS, { 'order-transitions': luaTransitions() });
  }

  private key(kind: 'o' | 'h' | 'e', orderId: string): string {
    return `{${this.options.keyTag}}:${kind}:${orderId}`;
  }

  private watermarkKey(topic: string, partition: number): string {
    return `{${this.options.keyTag}}:wm:${topic}:${partition}`;
  }

  get idleKey(): string {
    return `{${this.options.keyTag}}:idle`;
  }

  get deadlinesKey(): string {
    return `{${this.options.keyTag}}:deadlines`;
  }

  async apply(
    events: OrderInput[],
    now = Date.now(),
    positions: readonly ChunkPosition[] = [],
  ): Promise<OrderOutcome[]> {
    if (events.length === 0 && positions.length === 0) return [];
    const keys = new ScriptKeys();
    const dz = keys.ref(this.deadlinesKey);
    const iz = keys.ref(this.idleKey);
    const wm = positionArgs(positions, (p) => keys.ref(this.watermarkKey(p.topic, p.partition)));
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
      ...(e.source ? { src: e.source } : {}),
    }));
    const raw = (await callScriptDurably(
      this.redis,
      this.options.durability ?? { kind: 'none' },
      'apply-order-events',
      keys.keys,
      [
        JSON.stringify({ dz, iz, wm, ev }),
        now,
        this.options.paymentDeadlineMs,
        this.options.finalOrderTtlSeconds,
        this.options.staleAfterMs ?? 30 * 24 * 3600 * 1000,
        MAX_EVENTS_PER_ORDER,
      ],
    )) as string;
    const parsed = JSON.parse(raw) as RawOutcome[] | Record<string, never>;
    throwIfPositionsWentBack(parsed, positions);
    // cjson encodes an empty list as {}
    return (Array.isArray(parsed) ? parsed : []).map((r) => ({
      eventId: r.id,
      status: r.st,
      first: r.st_first ?? (r.st as OutcomeStatus),
      why: r.why ?? null,
      // cjson encodes an empty table as an object
      transitions: Array.isArray(r.tr) ? r.tr : [],
      alerts: Array.isArray(r.alerts) ? r.alerts : [],
    }));
  }

  async appliedPosition(topic: string, partition: number): Promise<AppliedPosition> {
    const wm = Number((await this.redis.get(this.watermarkKey(topic, partition))) ?? -1);
    return { lowest: wm, highest: wm };
  }

  async resetPosition(topic: string, partition: number, offset: number): Promise<void> {
    await this.redis.set(this.watermarkKey(topic, partition), String(offset));
  }

  /** Stale orders, leased to this caller; archive each once its alert is out. */
  async claimStale(
    now: number,
    limit: number,
    leaseMs: number,
  ): Promise<{ orderId: string; staleSince: number; lease: number }[]> {
    const flat = (await callScript(
      this.redis,
      'claim-stale-orders',
      [this.idleKey],
      [now, limit, leaseMs],
    )) as string[];
    const out: { orderId: string; staleSince: number; lease: number }[] = [];
    for (let i = 0; i < flat.length; i += 3) {
      out.push({ orderId: flat[i] as string, staleSince: Number(flat[i + 1]), lease: Number(flat[i + 2]) });
    }
    return out;
  }

  async archive(orderId: string, lease: number): Promise<boolean> {
    const done = await callScript(
      this.redis,
      'archive-order',
      [this.key('o', orderId), this.key('h', orderId), this.key('e', orderId), this.idleKey],
      [orderId, lease, this.options.finalOrderTtlSeconds],
    );
    return Number(done) === 1;
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
