import { fileURLToPath } from 'node:url';
import { callScript, defineScripts, ScriptKeys, type RedisClient } from '../../runtime/lua-scripts.js';
import type { CarrierEvent } from '../../schemas/types.js';

const luaDir = fileURLToPath(new URL('./lua/', import.meta.url));
const SCRIPTS = ['apply-carrier-events', 'claim-due-shipments', 'ack-shipment-alert'] as const;

export type ShipmentOutput =
  | { k: 'status'; from: string | null; to: string; at: number; id: string }
  | { k: 'order'; ty: 'SHIPPED' | 'DELIVERED'; oid: string }
  | { k: 'alert'; kind: string };

export interface CarrierOutcome {
  eventId: string;
  status: 'ok' | 'dup';
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

export type WatchKind = 'DELAYED' | 'SILENT';

export interface ShipmentStoreOptions {
  keyTag: string;
  silenceMs: number;
  finalTtlSeconds: number;
}

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
    return `{${this.options.keyTag}}:due:${kind === 'DELAYED' ? 'promised' : 'silent'}`;
  }

  async apply(events: CarrierEvent[], now = Date.now()): Promise<CarrierOutcome[]> {
    if (events.length === 0) return [];
    const keys = new ScriptKeys();
    keys.ref(this.watchKey('DELAYED')); // index 1: `pz`
    keys.ref(this.watchKey('SILENT')); // index 2: `sz`
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
    const raw = (await callScript(this.redis, 'apply-carrier-events', keys.keys, [
      JSON.stringify({ pz: 1, sz: 2, ev }),
      now,
      this.options.silenceMs,
      this.options.finalTtlSeconds,
    ])) as string;
    return (
      JSON.parse(raw) as { id: string; st: 'ok' | 'dup'; out: ShipmentOutput[] | Record<string, never> }[]
    ).map((r) => ({ eventId: r.id, status: r.st, outputs: Array.isArray(r.out) ? r.out : [] }));
  }

  async claimDue(
    now: number,
    limit: number,
    leaseMs: number,
  ): Promise<{ kind: WatchKind; trackingNumber: string }[]> {
    const flat = (await callScript(
      this.redis,
      'claim-due-shipments',
      [this.watchKey('DELAYED'), this.watchKey('SILENT')],
      [now, limit, leaseMs],
    )) as string[];
    const out: { kind: WatchKind; trackingNumber: string }[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      out.push({ kind: flat[i] as WatchKind, trackingNumber: flat[i + 1] as string });
    }
    return out;
  }

  async ackAlert(kind: WatchKind, trackingNumber: string): Promise<void> {
    await callScript(
      this.redis,
      'ack-shipment-alert',
      [this.key('s', trackingNumber), this.watchKey(kind)],
      [kind, trackingNumber],
    );
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
