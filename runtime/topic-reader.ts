import type { Kafka } from 'kafkajs';
import type { InputMessage } from './dead-letter.js';

/**
 * Reads a topic from its beginning (or from the first record at or after `fromTimestamp`) up to
 * the end offsets it had when the read started, with a throwaway consumer group that commits
 * nothing. For operator commands, recovery look-ups and tests.
 */
export async function readTopicToEnd(
  kafka: Kafka,
  topic: string,
  onMessage: (m: InputMessage) => void | Promise<void>,
  timeoutMs = 120_000,
  options: { fromTimestamp?: number } = {},
): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  const starts = new Map<number, number>();
  if (options.fromTimestamp !== undefined) {
    for (const p of await admin.fetchTopicOffsetsByTimestamp(topic, options.fromTimestamp)) {
      // -1: no record at or after the time
      starts.set(p.partition, Number(p.offset) < 0 ? Number.MAX_SAFE_INTEGER : Number(p.offset));
    }
  }
  await admin.disconnect();
  const remaining = new Map<number, number>();
  for (const p of ends) {
    const start = Math.max(Number(p.low), starts.get(p.partition) ?? 0);
    if (Number(p.high) > start) remaining.set(p.partition, Number(p.high) - 1);
  }
  if (remaining.size === 0) return 0;

  const consumer = kafka.consumer({
    groupId: `reader.${topic}.${process.pid}.${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 6)}`,
    maxBytesPerPartition: 4 * 1024 * 1024,
  });
  await consumer.connect();
  let count = 0;
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const seekStarts = () => {
        for (const [partition, offset] of starts) {
          if (remaining.has(partition)) consumer.seek({ topic, partition, offset: String(offset) });
        }
      };
      const timer = setTimeout(() => reject(new Error(`reading ${topic} timed out`)), timeoutMs);
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            const last = remaining.get(batch.partition);
            if (last === undefined) return;
            const start = starts.get(batch.partition) ?? 0;
            for (const m of batch.messages) {
              const offset = Number(m.offset);
              if (offset > last) break;
              if (offset < start) continue;
              count += 1;
              await onMessage({
                topic,
                partition: batch.partition,
                offset,
                key: m.key,
                value: m.value,
                timestamp: Number(m.timestamp),
                headers: m.headers ?? {},
              });
            }
            const lastSeen = Number(batch.messages[batch.messages.length - 1]?.offset ?? -1);
            if (lastSeen >= last || Number(batch.highWatermark) - 1 <= lastSeen)
              remaining.delete(batch.partition);
            if (remaining.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .then(seekStarts)
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return count;
}

export function headerString(headers: InputMessage['headers'], name: string): string | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  const first = Array.isArray(v) ? v[0] : v;
  return first === undefined ? undefined : first.toString();
}
