import type { Kafka } from 'kafkajs';
import type { InputMessage } from './dead-letter.js';

/**
 * Reads a topic from its beginning up to the end offsets it had when the read started, with a
 * throwaway consumer group that commits nothing. For operator commands and tests.
 */
export async function readTopicToEnd(
  kafka: Kafka,
  topic: string,
  onMessage: (m: InputMessage) => void | Promise<void>,
  timeoutMs = 120_000,
): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const remaining = new Map<number, number>();
  for (const p of ends) if (Number(p.high) > Number(p.low)) remaining.set(p.partition, Number(p.high) - 1);
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
      const timer = setTimeout(() => reject(new Error(`reading ${topic} timed out`)), timeoutMs);
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            const last = remaining.get(batch.partition);
            if (last === undefined) return;
            for (const m of batch.messages) {
              const offset = Number(m.offset);
              if (offset > last) break;
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
