import type { Kafka, Producer } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createProducer } from '../../runtime/kafka.js';

/** A kafkajs client whose first idempotent session breaks on its first send, as after a failover. */
function fakeKafka() {
  const made: { connected: boolean; sent: number; id: number }[] = [];
  const kafka = {
    producer: () => {
      const state = { connected: false, sent: 0, id: made.length };
      made.push(state);
      return {
        connect: async () => {
          state.connected = true;
        },
        disconnect: async () => {
          state.connected = false;
        },
        sendBatch: async () => {
          if (state.id === 0) {
            throw Object.assign(new Error('The broker received an out of order sequence number'), {
              name: 'KafkaJSProtocolError',
              type: 'OUT_OF_ORDER_SEQUENCE_NUMBER',
              retriable: false,
            });
          }
          state.sent += 1;
          return [];
        },
        send: async () => {
          throw Object.assign(new Error('Connection error'), { name: 'KafkaJSConnectionError' });
        },
      } as unknown as Producer;
    },
  } as unknown as Kafka;
  return { kafka, made };
}

describe('producers recover from a broken idempotent session', () => {
  it('replaces the producer (a new producer id) and sends again', async () => {
    const { kafka, made } = fakeKafka();
    const producer = createProducer(kafka);
    await producer.connect();
    await producer.sendBatch({ topicMessages: [{ topic: 't', messages: [{ value: 'x' }] }] });
    expect(made.map((m) => ({ connected: m.connected, sent: m.sent }))).toEqual([
      { connected: false, sent: 0 },
      { connected: true, sent: 1 },
    ]);
  });

  it('leaves other failures to the caller, with the same producer', async () => {
    const { kafka, made } = fakeKafka();
    const producer = createProducer(kafka);
    await producer.connect();
    await expect(producer.send({ topic: 't', messages: [{ value: 'x' }] })).rejects.toThrow(
      'Connection error',
    );
    expect(made).toHaveLength(1);
  });
});
