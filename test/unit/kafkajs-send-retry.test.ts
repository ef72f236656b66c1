import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

// kafkajs' produce path, as patched by patches/kafkajs+2.2.4.patch (applied by `npm ci`)
const require = createRequire(import.meta.url);
const sendMessages = require('kafkajs/src/producer/sendMessages.js') as (
  deps: unknown,
) => (req: {
  acks: number;
  timeout: number;
  compression: number;
  topicMessages: { topic: string; messages: { key: string; value: string }[] }[];
}) => Promise<{ topicName: string; partition: number }[]>;
const createRetry = require('kafkajs/src/retry/index.js') as (opts: object) => unknown;

interface Broker {
  nodeId: number;
  produce: (req: {
    topicData: { topic: string; partitions: { partition: number; messages: unknown[] }[] }[];
  }) => Promise<unknown>;
}

/**
 * A broker that fails over in the middle of a send: partition 1's leader (node 1) dies after the
 * request reaches it, and the refreshed metadata names node 2, which had already answered for
 * partition 0 in the same send.
 */
function failingOver() {
  const written: Record<number, unknown[]> = { 0: [], 1: [] };
  let leaderOf1 = 1;
  const broker = (nodeId: number): Broker => ({
    nodeId,
    produce: async ({ topicData }) => {
      if (nodeId === 1)
        throw Object.assign(new Error('connection refused'), { name: 'KafkaJSConnectionError' });
      for (const t of topicData) for (const p of t.partitions) written[p.partition]?.push(...p.messages);
      return {
        topics: topicData.map((t) => ({
          topicName: t.topic,
          partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode: 0, baseOffset: '0' })),
        })),
      };
    },
  });
  const brokers = new Map([1, 2].map((id) => [id, broker(id)]));
  const cluster = {
    refreshMetadataIfNecessary: async () => undefined,
    refreshMetadata: async () => {
      leaderOf1 = 2;
    },
    addMultipleTargetTopics: async () => undefined,
    isConnected: () => true,
    removeBroker: () => undefined,
    findTopicPartitionMetadata: () => [
      { partitionId: 0, leader: 2 },
      { partitionId: 1, leader: leaderOf1 },
    ],
    findLeaderForPartitions: (_topic: string, partitions: string[]) => {
      const out: Record<number, number[]> = {};
      for (const p of partitions.map(Number)) (out[p === 0 ? 2 : leaderOf1] ??= []).push(p);
      return out;
    },
    findBroker: async ({ nodeId }: { nodeId: number | string }) => brokers.get(Number(nodeId)),
    targetTopics: new Set(),
  };
  const eosManager = {
    isTransactional: () => false,
    acquireBrokerLock: async () => undefined,
    releaseBrokerLock: async () => undefined,
    getSequence: () => 0,
    updateSequence: () => undefined,
    getProducerId: () => -1,
    getProducerEpoch: () => 0,
    getTransactionalId: () => undefined,
  };
  const logger = {
    debug: () => undefined,
    error: () => undefined,
    warn: () => undefined,
    info: () => undefined,
  };
  const send = sendMessages({
    logger,
    cluster,
    // key "p0" to partition 0, "p1" to partition 1
    partitioner: ({ message }: { message: { key: string } }) => (message.key === 'p0' ? 0 : 1),
    eosManager,
    retrier: createRetry({ retries: 5, initialRetryTime: 1, maxRetryTime: 2 }),
  });
  return { send, written };
}

describe("kafkajs' send across a leader failover (patched)", () => {
  it('sends again every partition not acknowledged, also to a broker that already answered', async () => {
    const { send, written } = failingOver();
    const responses = await send({
      acks: -1,
      timeout: 30_000,
      compression: 0,
      topicMessages: [
        {
          topic: 't',
          messages: [
            { key: 'p0', value: 'a' },
            { key: 'p1', value: 'b' },
            { key: 'p1', value: 'c' },
          ],
        },
      ],
    });
    // upstream resolved here with partition 1's two messages never written
    expect(written[1]).toHaveLength(2);
    expect(written[0]).toHaveLength(1);
    expect(responses.map((r) => r.partition).sort()).toEqual([0, 1]);
  });
});
