import { fileURLToPath } from 'node:url';
import { positionArgs, throwIfPositionsWentBack, type ChunkPosition } from '../../runtime/chunk-positions.js';
import { callScriptDurably, type DurabilityPolicy } from '../../runtime/durability.js';
import { callScript, defineScripts, ScriptKeys, type RedisClient } from '../../runtime/lua-scripts.js';
import type { AppliedPosition } from '../../runtime/processor-runner.js';
import type { CarrierEvent } from '../../schemas/types.js';

const luaDir = fileURLToPath(new URL('./lua/', import.meta.url));
const SCRIPTS = [
  'apply-carrier-events',
  'claim-due-shipments',
  'ack-shipment-alert',
  'close-shipment',
] as const;

/** Carrier events kept on a shipment's timeline (the latest). */
export const TIMELINE_CAP = 200;
/** Carrier events stored per shipment (its de-duplication record); later ones are dead-lettered. */
export const MAX_EVENTS_PER_SHIPMENT = 1_000;

export type ShipmentOutput =
  | { k: 'status'; from: string | null; to: string; at: number; id: string }
  | { k: 'order'; ty: 'SHIPPED' | 'DELIVERED'; oid: string }
  | { k: 'alert'; kind: string };

export interface CarrierOutcome {
  eventId: string;
  status: 'ok' | 'dup' | 'dlq';
  why: string | null;
  outputs: ShipmentOutput[];
}

export interface Shipment {
  trackingNumber: string;
  carrier: string;
  orderId: string | null;
  status: string;
  promisedDeliveryAt: number | null;
  deliveredAt: number | null;
  alerts: string[];
  timeline: { id: string; ty: string; at: number; loc?: string; det?: string }[];
}

export type WatchKind = 'DELAYED' | 'SILENT' | 'CLOSED';

export interface ShipmentStoreOptions {
  keyTag: string;
  silenceMs: number;
  finalTtlSeconds: number;
  /** an unfinished shipment no carrier event moved for this long is closed (alert CLOSED) */
  closeAfterMs?: number;
  durability?: DurabilityPolicy;
}

/** A chunk's partition position, recorded with its events. */
/** Shipment state in Redis, changed only through the Lua scripts in ./lua. */
export class ShipmentStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly options: ShipmentStoreOptions,
  ) {
    defineScripts(redis, luaDir, SCRIPTS);
  }

  private key(kind: 's' | 't' | 'e', trackingNumber: string): string {
    return `{${this.options.keyTag}}:${kind}:${trackingNumber}`;
  }

  watchKey(kind: WatchKind): string {
    const name = { DELAYED: 'promised', SILENT: 'silent', CLOSED: 'close' }[kind];
    return `{${this.options.keyTag}}:due:${name}`;
  }

  private watermarkKey(topic: string, partition: number): string {
    return `{${this.options.keyTag}}:wm:${topic}:${partition}`;
  }

  async appliedPosition(topic: string, partition: number): Promise<AppliedPosition> {
    const wm = Number((await this.redis.get(this.watermarkKey(topic, partition))) ?? -1);
    return { lowest: wm, highest: wm };
  }

  async resetPosition(topic: string, partition: number, offset: number): Promise<void> {
    await this.redis.set(this.watermarkKey(topic, partition), String(offset));
  }

  async apply(
    events: CarrierEvent[],
    now = Date.now(),
    positions: readonly ChunkPosition[] = [],
  ): Promise<CarrierOutcome[]> {
    if (events.length === 0 && positions.length === 0) return [];
    const keys = new ScriptKeys();
    const pz = keys.ref(this.watchKey('DELAYED'));
    const sz = keys.ref(this.watchKey('SILENT'));
    const cz = keys.ref(this.watchKey('CLOSED'));
    const wm = positionArgs(positions, (p) => keys.ref(this.watermarkKey(p.topic, p.partition)));
    const ev = events.map((e) => ({
      id: e.eventId,
      trk: e.trackingNumber,
      car: e.carrier,
      ty: e.type,
      at: e.occurredAt,
      s: keys.ref(this.key('s', e.trackingNumber)),
      t: keys.ref(this.key('t', e.trackingNumber)),
      e: keys.ref(this.key('e', e.trackingNumber)),
      ...(e.orderId ? { oid: e.orderId } : {}),
      ...(e.location ? { loc: e.location } : {}),
      ...(e.detail ? { det: e.detail } : {}),
      ...(e.promisedDeliveryAt ? { pdl: e.promisedDeliveryAt } : {}),
    }));
    const raw = (await callScriptDurably(
      this.redis,
      this.options.durability ?? { kind: 'none' },
      'apply-carrier-events',
      keys.keys,
      [
        JSON.stringify({ pz, sz, cz, wm, ev }),
        now,
        this.options.silenceMs,
        this.options.finalTtlSeconds,
        this.options.closeAfterMs ?? 30 * 24 * 3600 * 1000,
        TIMELINE_CAP,
        MAX_EVENTS_PER_SHIPMENT,
      ],
    )) as string;
    const parsed = JSON.parse(raw) as
      | {
          id: string;
          st: 'ok' | 'dup' | 'dlq';
          why?: string;
          out: ShipmentOutput[] | Record<string, never>;
        }[]
      | Record<string, never>;
    throwIfPositionsWentBack(parsed, positions);
    // cjson encodes an empty list as {}
    return (Array.isArray(parsed) ? parsed : []).map((r) => ({
      eventId: r.id,
      status: r.st,
      why: r.why ?? null,
      outputs: Array.isArray(r.out) ? r.out : [],
    }));
  }

  async claimDue(
    now: number,
    limit: number,
    leaseMs: number,
  ): Promise<{ kind: WatchKind; trackingNumber: string }[]> {
    const flat = (await callScript(
      this.redis,
      'claim-due-shipments',
      [this.watchKey('DELAYED'), this.watchKey('SILENT'), this.watchKey('CLOSED')],
      [now, limit, leaseMs],
    )) as string[];
    const out: { kind: WatchKind; trackingNumber: string }[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      out.push({ kind: flat[i] as WatchKind, trackingNumber: flat[i + 1] as string });
    }
    return out;
  }

  async ackAlert(kind: Exclude<WatchKind, 'CLOSED'>, trackingNumber: string): Promise<void> {
    await callScript(
      this.redis,
      'ack-shipment-alert',
      [this.key('s', trackingNumber), this.watchKey(kind)],
      [kind, trackingNumber],
    );
  }

  /** After its CLOSED alert: the shipment's keys get the final TTL, unless an event came since. */
  async close(trackingNumber: string, leaseEnd: number): Promise<boolean> {
    const done = await callScript(
      this.redis,
      'close-shipment',
      [
        this.key('s', trackingNumber),
        this.key('t', trackingNumber),
        this.key('e', trackingNumber),
        this.watchKey('DELAYED'),
        this.watchKey('SILENT'),
        this.watchKey('CLOSED'),
      ],
      [trackingNumber, leaseEnd, this.options.finalTtlSeconds],
    );
    return Number(done) === 1;
  }

  async get(trackingNumber: string): Promise<Shipment | null> {
    const [h, timeline] = await Promise.all([
      this.redis.hgetall(this.key('s', trackingNumber)),
      this.redis.zrange(this.key('t', trackingNumber), '0', '-1'),
    ]);
    if (!h.car) return null;
    return {
      trackingNumber,
      carrier: h.car,
      orderId: h.oid ?? null,
      status: h.st ?? 'UNKNOWN',
      promisedDeliveryAt: h.pdl ? Number(h.pdl) : null,
      deliveredAt: h.dla ? Number(h.dla) : null,
      alerts: Object.keys(h)
        .filter((k) => k.startsWith('a_'))
        .map((k) => k.slice(2)),
      timeline: timeline.map((m) => JSON.parse(m) as Shipment['timeline'][number]),
    };
  }
}
