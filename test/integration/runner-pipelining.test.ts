import type { Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProducer } from '../../runtime/kafka.js';
import type { BatchMetric } from '../../runtime/metrics.js';
import { ProcessorRunner, type ChunkResult, type InputChunk } from '../../runtime/processor-runner.js';
import { testKafka, testLogger, uniquePrefix } from '../helpers/pipeline.js';
import { waitFor } from '../helpers/processes.js';

/**
 * The runner lets a partition's next chunk be applied while the previous chunk's outputs wait
 * for Kafka's acknowledgement, but commits a chunk's offset only once its outputs are
 * acknowledged. Real broker; the domain is a stand-in that forwards each input, and the
 * producer's requests are held at a gate the test opens.
 */
const kafka = testKafka('pipelining');

class Gate {
  private open = false;
  private waiters: (() => void)[] = [];
  held = 0;
  pass(): Promise<void> {
    if (this.open) return Promise.resolve();
    this.held += 1;
    return new Promise((resolve) => this.waiters.push(resolve));
  }
  release(): void {
    this.open = true;
    for (const w of this.waiters.splice(0)) w();
  }
}

describe('runner: apply ahead of publication, commit only what is published (real Kafka)', () => {
  const prefix = uniquePrefix('pipelining');
  const input = `${prefix}in`;
  const output = `${prefix}out`;
  const groupId = `${prefix}group`;
  const admin = kafka.admin();
  let real: Producer;

  beforeAll(async () => {
    await admin.connect();
    await admin.createTopics({
      topics: [input, output, `${input}.dlq`].map((topic) => ({ topic, numPartitions: 1 })),
      waitForLeaders: true,
    });
    real = createProducer(kafka);
    await real.connect();
  });
  afterAll(async () => {
    await real.disconnect();
    await admin.deleteTopics({ topics: [input, output, `${input}.dlq`] }).catch(() => undefined);
    await admin.disconnect();
  });

  const committed = async () => {
    const [t] = await admin.fetchOffsets({ groupId, topics: [input] });
    return Number(t?.partitions[0]?.offset ?? -1);
  };

  it('applies later chunks while the first publication waits; commits after acknowledgement and on stop', async () => {
    const gate = new Gate();
    const producer = { ...real, sendBatch: async (b) => (await gate.pass(), real.sendBatch(b)) } as Producer;
    const appliedChunks: { upTo: number; heldAtApply: number }[] = [];
    let applied = -1;
    const metrics: BatchMetric[] = [];
    const runner = new ProcessorRunner(
      kafka,
      producer,
      {
        name: 'forwarder',
        groupId,
        topics: [input],
        deadLetterTopic: (t) => `${t}.dlq`,
        appliedPosition: async () => ({ lowest: applied, highest: applied }),
        handleChunks: async (chunks: InputChunk[]): Promise<ChunkResult[]> =>
          chunks.map((c) => {
            appliedChunks.push({ upTo: c.upTo, heldAtApply: gate.held });
            applied = Math.max(applied, c.upTo);
            return {
              outputs: c.messages.map((m) => ({
                topic: output,
                key: String(m.offset),
                value: m.value ?? Buffer.alloc(0),
              })),
              deadLetters: [],
              applied: c.messages.length,
              duplicates: 0,
              skipped: 0,
              redisMs: 0,
              appliedAt: Date.now(),
            };
          }),
      },
      {
        maxChunk: 10,
        partitionsConcurrently: 1,
        logger: testLogger,
        metrics: { record: (m) => metrics.push(m), close: async () => undefined },
        fetchMinBytes: 1,
        commitIntervalMs: 100,
        maxInFlight: 3,
      },
    );
    await runner.start();
    try {
      await real.send({
        topic: input,
        messages: Array.from({ length: 60 }, (_, i) => ({ key: 'k', value: `v${i}` })),
      });
      // six chunks of ten: three applied (maxInFlight) though the first publication has not gone
      // out, and no more: a publication that does not come back holds the partition
      await waitFor('three chunks applied', async () => applied === 29, 20_000);
      await new Promise((r) => setTimeout(r, 1_500));
      expect(applied).toBe(29);
      expect(gate.held).toBe(1);
      expect(appliedChunks.map((c) => c.heldAtApply)).toEqual([0, 1, 1]);
      // nothing acknowledged: nothing committed, no metrics recorded for unpublished chunks
      expect(await committed()).toBeLessThan(0);
      expect(metrics).toHaveLength(0);

      gate.release();
      await waitFor('offset committed after acknowledgement', async () => (await committed()) === 60, 15_000);
      expect(applied).toBe(59);
      expect(metrics.reduce((n, m) => n + m.eventsIn, 0)).toBe(60);
      const [published] = await admin.fetchTopicOffsets(output);
      expect(Number(published?.high)).toBe(60);

      // a stop while a publication waits: it goes out and is committed before the group is left
      const second = new Gate();
      const held = { ...real, sendBatch: async (b) => (await second.pass(), real.sendBatch(b)) } as Producer;
      Object.assign(producer, { sendBatch: held.sendBatch });
      await real.send({ topic: input, messages: [{ key: 'k', value: 'last' }] });
      await waitFor('last applied', async () => applied === 60, 30_000);
      const stopped = runner.stop();
      await new Promise((r) => setTimeout(r, 300));
      expect(await committed()).toBe(60);
      second.release();
      await stopped;
      expect(await committed()).toBe(61);
    } finally {
      gate.release();
      await runner.stop();
    }
  }, 90_000);
});
