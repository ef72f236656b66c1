import type { Kafka } from 'kafkajs';

/** Messages on `topics` the consumer group has not committed yet (from the earliest retained). */
export async function committedLag(kafka: Kafka, groupId: string, topics: string[]): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    let lag = 0;
    const committed = await admin.fetchOffsets({ groupId, topics });
    for (const topic of topics) {
      const mine = committed.find((c) => c.topic === topic)?.partitions ?? [];
      for (const p of await admin.fetchTopicOffsets(topic)) {
        const c = Number(mine.find((m) => m.partition === p.partition)?.offset ?? -1);
        lag += Number(p.high) - Math.max(c, Number(p.low));
      }
    }
    return lag;
  } finally {
    await admin.disconnect();
  }
}
