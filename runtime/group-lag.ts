import type { Kafka } from 'kafkajs';

/**
 * Messages on `topics` the consumer group has not committed yet (from the earliest retained),
 * per "topic:partition"; partitions with nothing outstanding are left out.
 */
export async function committedLagByPartition(
  kafka: Kafka,
  groupId: string,
  topics: string[],
): Promise<Map<string, number>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const lags = new Map<string, number>();
    const committed = await admin.fetchOffsets({ groupId, topics });
    for (const topic of topics) {
      const mine = committed.find((c) => c.topic === topic)?.partitions ?? [];
      for (const p of await admin.fetchTopicOffsets(topic)) {
        const c = Number(mine.find((m) => m.partition === p.partition)?.offset ?? -1);
        const lag = Number(p.high) - Math.max(c, Number(p.low));
        if (lag !== 0) lags.set(`${topic}:${p.partition}`, lag);
      }
    }
    return lags;
  } finally {
    await admin.disconnect();
  }
}

/** Messages on `topics` the consumer group has not committed yet, all partitions together. */
export async function committedLag(kafka: Kafka, groupId: string, topics: string[]): Promise<number> {
  let lag = 0;
  for (const n of (await committedLagByPartition(kafka, groupId, topics)).values()) lag += n;
  return lag;
}
