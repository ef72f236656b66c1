import type { Kafka } from 'kafkajs';
import { loadInventoryConfig } from '../processors/inventory/config.js';
import { StockStore } from '../processors/inventory/store.js';
import { loadLogisticsConfig } from '../processors/logistics/config.js';
import { ShipmentStore } from '../processors/logistics/store.js';
import { loadOrdersConfig } from '../processors/orders/config.js';
import { OrderStore } from '../processors/orders/store.js';
import { configOrExit } from '../runtime/config.js';
import type { RedisClient } from '../runtime/lua-scripts.js';
import type { AppliedPosition } from '../runtime/processor-runner.js';
import { createRedis } from '../runtime/redis.js';
import { topicName, type TopicName } from '../topics/definitions.js';
import type { CliContext } from './context.js';

/** What `position` needs of a processor: its group, inputs and where Redis keeps its positions. */
interface PositionOwner {
  group: string;
  inputs: TopicName[];
  position(topic: string, partition: number): Promise<AppliedPosition>;
  reset(topic: string, partition: number, watermark: number): Promise<void>;
}

export const PROCESSORS = ['inventory', 'orders', 'logistics'] as const;
export type ProcessorName = (typeof PROCESSORS)[number];

function ownerOf(name: ProcessorName, redis: RedisClient): PositionOwner {
  switch (name) {
    case 'inventory': {
      const c = configOrExit(loadInventoryConfig);
      const store = new StockStore(redis, { keyTag: c.INVENTORY_KEY_TAG, shards: c.INVENTORY_SHARDS });
      return {
        group: c.INVENTORY_GROUP_ID,
        inputs: ['stock', 'orders'],
        position: (t, p) => store.appliedPosition(t, p),
        reset: (t, p, w) => store.resetPosition(t, p, w),
      };
    }
    case 'orders': {
      const c = configOrExit(loadOrdersConfig);
      const store = new OrderStore(redis, {
        keyTag: c.ORDERS_KEY_TAG,
        paymentDeadlineMs: c.ORDERS_PAYMENT_DEADLINE_MS,
        finalOrderTtlSeconds: c.ORDERS_FINAL_TTL_SECONDS,
      });
      return {
        group: c.ORDERS_GROUP_ID,
        inputs: ['orders', 'reservation-results'],
        position: (t, p) => store.appliedPosition(t, p),
        reset: (t, p, w) => store.resetPosition(t, p, w),
      };
    }
    case 'logistics': {
      const c = configOrExit(loadLogisticsConfig);
      const store = new ShipmentStore(redis, {
        keyTag: c.LOGISTICS_KEY_TAG,
        silenceMs: c.LOGISTICS_SILENCE_MS,
        finalTtlSeconds: c.LOGISTICS_FINAL_TTL_SECONDS,
      });
      return {
        group: c.LOGISTICS_GROUP_ID,
        inputs: ['carrier'],
        position: (t, p) => store.appliedPosition(t, p),
        reset: (t, p, w) => store.resetPosition(t, p, w),
      };
    }
  }
}

async function withRedis<T>(ctx: CliContext, fn: (redis: RedisClient) => Promise<T>): Promise<T> {
  const redis = createRedis(ctx.config, { maxRetriesPerRequest: 2 });
  try {
    return await fn(redis);
  } finally {
    await redis.quit().catch(() => undefined);
  }
}

async function logBounds(kafka: Kafka, topic: string): Promise<Map<number, { low: number; high: number }>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const out = new Map<number, { low: number; high: number }>();
    for (const p of await admin.fetchTopicOffsets(topic))
      out.set(p.partition, { low: Number(p.low), high: Number(p.high) });
    return out;
  } finally {
    await admin.disconnect();
  }
}

export interface PartitionPosition {
  processor: ProcessorName;
  group: string;
  topic: string;
  partition: number;
  /** Redis' applied position: the lowest and highest over the shards (equal with one shard) */
  redisApplied: { lowest: number; highest: number };
  /** the group's committed position (the last offset consumed), null when it never committed */
  groupCommitted: number | null;
  logStart: number;
  logEnd: number;
  /** what the processor would do about it, when not simply resume */
  problem: 'refused' | 'replays' | null;
  note: string;
}

/**
 * Every input partition of a processor: where Redis says it has applied up to, where its group
 * committed, and the log's bounds, flagging what the processor would refuse or replay.
 */
export async function positionRows(ctx: CliContext, name: ProcessorName): Promise<PartitionPosition[]> {
  return withRedis(ctx, async (redis) => {
    const owner = ownerOf(name, redis);
    const admin = ctx.kafka.admin();
    await admin.connect();
    const rows: PartitionPosition[] = [];
    try {
      for (const input of owner.inputs) {
        const topic = topicName(ctx.config.TOPIC_PREFIX, input);
        const bounds = await logBounds(ctx.kafka, topic);
        const [committed] = await admin.fetchOffsets({ groupId: owner.group, topics: [topic] });
        for (const [partition, { low, high }] of [...bounds].sort((a, b) => a[0] - b[0])) {
          const pos = await owner.position(topic, partition);
          const c = Number(committed?.partitions.find((p) => p.partition === partition)?.offset ?? -1);
          let problem: PartitionPosition['problem'] = null;
          let note = '';
          if (pos.highest >= high) {
            problem = 'refused';
            note = 'REFUSED: Redis is ahead of the log (reset the position or rebuild)';
          } else if (c > 0 && pos.lowest + 1 < c) {
            problem = 'replays';
            note = `Redis is behind the group: ${c - pos.lowest - 1} events are applied again`;
          }
          rows.push({
            processor: name,
            group: owner.group,
            topic,
            partition,
            redisApplied: { lowest: pos.lowest, highest: pos.highest },
            groupCommitted: c < 0 ? null : c - 1,
            logStart: low,
            logEnd: high - 1,
            problem,
            note,
          });
        }
      }
    } finally {
      await admin.disconnect();
    }
    return rows;
  });
}

/** `position show` as text: a header per processor, a line per partition. */
export function printPositions(rows: readonly PartitionPosition[]): void {
  let current = '';
  for (const r of rows) {
    if (r.processor !== current) {
      current = r.processor;
      console.log(
        `${r.processor} (group ${r.group}): partition  redis-applied  group-committed  log-start..log-end`,
      );
    }
    const { lowest, highest } = r.redisApplied;
    const applied = lowest === highest ? `${lowest}` : `${lowest}..${highest}`;
    console.log(
      `  ${r.topic}:${r.partition}  ${applied}  ${r.groupCommitted ?? '-'}  ${r.logStart}..${r.logEnd}${r.note ? `  ${r.note}` : ''}`,
    );
  }
}

/**
 * Sets where a processor resumes a partition (its Redis watermark, on every shard), for after a
 * topic was deleted and recreated: `start` applies the new log from its beginning, `end` skips
 * what is in it now, a number resumes at that offset. Refused while the group has live members.
 */
export async function positionReset(
  ctx: CliContext,
  name: ProcessorName,
  topic: string,
  partition: number,
  resumeAt: string,
): Promise<number> {
  return withRedis(ctx, async (redis) => {
    const owner = ownerOf(name, redis);
    const full = topic.startsWith(ctx.config.TOPIC_PREFIX) ? topic : `${ctx.config.TOPIC_PREFIX}${topic}`;
    const admin = ctx.kafka.admin();
    await admin.connect();
    try {
      const { groups } = await admin.describeGroups([owner.group]);
      if ((groups[0]?.members.length ?? 0) > 0) {
        console.error(`group ${owner.group} has live members: stop every ${name} processor first`);
        return 2;
      }
    } finally {
      await admin.disconnect();
    }
    const bounds = (await logBounds(ctx.kafka, full)).get(partition);
    if (!bounds) {
      console.error(`${full} has no partition ${partition}`);
      return 2;
    }
    const offset = resumeAt === 'start' ? bounds.low : resumeAt === 'end' ? bounds.high : Number(resumeAt);
    if (!Number.isInteger(offset) || offset < 0) {
      console.error('--resume-at takes start, end or an offset');
      return 2;
    }
    const before = await owner.position(full, partition);
    await owner.reset(full, partition, offset - 1);
    console.log(
      `${name} ${full}:${partition}: Redis position ${before.lowest === before.highest ? before.lowest : `${before.lowest}..${before.highest}`} -> ${offset - 1}; it resumes at offset ${offset}`,
    );
    return 0;
  });
}
