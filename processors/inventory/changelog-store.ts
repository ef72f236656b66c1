import { callScriptDurably, type DurabilityPolicy } from '../../runtime/durability.js';
import { callScript, type RedisClient, ScriptKeys } from '../../runtime/lua-scripts.js';
import type { InventoryKeys } from './keys.js';
import { levelsFromReply, type LevelRecord } from './script-results.js';
import type { StockShards } from './shards.js';

/** A SKU whose level the changelog owes a record, as claimed. */
export type ClaimedLevel = LevelRecord;

/** An alert a catalogue update caused, waiting to be published. */
export interface PendingCatalogueAlert {
  member: string;
  sku: string;
  version: number;
  kind: string;
  on: number;
  rs: number;
  th: number;
  /** who queued it when not a catalogue update ('forecast-sweep'), and a forecast's figures */
  src?: string;
  vel?: number;
  lt?: number;
}

/**
 * What the changelog needs of the stock state: the SKUs whose level is owed a record (claimed
 * under a lease, acknowledged by version: see ack-stock-levels.lua) and the catalogue alerts
 * queued for publication. The scripts are defined by StockStore on the same client.
 */
export class ChangelogStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly shards: StockShards,
    private readonly durability: DurabilityPolicy,
  ) {}

  /** Catalogue alerts due for publication on one shard, leased for `leaseMs`. */
  async claimPendingAlerts(shard: number, limit: number, leaseMs: number): Promise<PendingCatalogueAlert[]> {
    const keys = this.shards.keys[shard] as InventoryKeys;
    const members = (await callScript(
      this.redis,
      'claim-pending-alerts',
      [keys.catalogueAlerts()],
      [Date.now(), leaseMs, limit],
    )) as string[];
    return members.map((member) => {
      const a = JSON.parse(member) as {
        sku: string;
        v: number;
        kind: string;
        on: number;
        rs: number;
        th: number;
        src?: string;
        vel?: number;
        lt?: number;
      };
      return {
        member,
        sku: a.sku,
        version: a.v,
        kind: a.kind,
        on: a.on,
        rs: a.rs,
        th: a.th,
        ...(a.src !== undefined ? { src: a.src } : {}),
        ...(a.vel !== undefined ? { vel: a.vel, lt: a.lt ?? 0 } : {}),
      };
    });
  }

  async ackPendingAlerts(shard: number, members: readonly string[]): Promise<void> {
    if (members.length === 0) return;
    const keys = this.shards.keys[shard] as InventoryKeys;
    await this.redis.zrem(keys.catalogueAlerts(), ...members);
  }

  /**
   * SKUs of one shard whose level the changelog owes a record: about `limit` of them from where
   * the scan `cursor` stands, leased for `leaseMs`, with their state now, and the next cursor. The state read here is durable under the policy: the claim
   * is itself a write that comes after the state's in Redis' stream.
   */
  async claimLevels(
    shard: number,
    limit: number,
    leaseMs: number,
    cursor = '0',
    graceMs = 0,
  ): Promise<{ levels: ClaimedLevel[]; cursor: string }> {
    const keys = this.shards.keys[shard] as InventoryKeys;
    const [next, flat] = await this.redis.hscan(keys.dirty(), cursor, 'COUNT', limit);
    const levels: ClaimedLevel[] = [];
    if (flat.length === 0) return { levels, cursor: next };
    const scriptKeys = new ScriptKeys();
    scriptKeys.ref(keys.dirty());
    scriptKeys.ref(keys.dirtyLeases());
    const candidates: [string, number][] = [];
    for (let i = 0; i < flat.length; i += 2) {
      const sku = flat[i] as string;
      candidates.push([sku, scriptKeys.ref(keys.sku(sku))]);
    }
    // as bytes: the levels carry SKU records as written (packed)
    const claimed = (await callScriptDurably(
      this.redis,
      this.durability,
      'claim-stock-levelsBuffer',
      scriptKeys.keys,
      [Date.now(), leaseMs, JSON.stringify(candidates), graceMs],
    )) as Buffer;
    levels.push(...levelsFromReply(claimed));
    return { levels, cursor: next };
  }

  /** Acknowledges published level records of SKUs on any shards (grouped by shard). */
  async ackPublishedLevels(published: readonly LevelRecord[]): Promise<void> {
    const byShard = new Map<number, LevelRecord[]>();
    for (const l of published) {
      const shard = this.shards.ofSku(l.sku);
      const list = byShard.get(shard);
      if (list) list.push(l);
      else byShard.set(shard, [l]);
    }
    await Promise.all([...byShard].map(([shard, levels]) => this.ackLevels(shard, levels, false)));
  }

  /**
   * After Kafka acknowledged the level records: done, or owed again when the SKU moved on.
   * `leased`: a drainer's records, whose leases end now; otherwise a chunk's own.
   */
  async ackLevels(shard: number, published: readonly ClaimedLevel[], leased = true): Promise<number> {
    if (published.length === 0) return 0;
    const keys = this.shards.keys[shard] as InventoryKeys;
    const scriptKeys = new ScriptKeys();
    scriptKeys.ref(keys.dirty());
    scriptKeys.ref(keys.dirtyLeases());
    scriptKeys.ref(keys.dirtyPending());
    const acks = published.map((l) => [l.sku, scriptKeys.ref(keys.sku(l.sku)), l.version]);
    return Number(
      await callScript(this.redis, 'ack-stock-levels', scriptKeys.keys, [
        JSON.stringify(acks),
        leased ? '1' : '0',
        Date.now(),
      ]),
    );
  }
}
