import fc from 'fast-check';
import kafkajs, { type PartitionMetadata } from 'kafkajs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { JavaCompatiblePartitioner, murmur2 } from '../../runtime/kafka-partitioner.js';

const require = createRequire(import.meta.url);
const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (
  key: Buffer | string,
) => number;

const partitions = (n: number): PartitionMetadata[] =>
  Array.from({ length: n }, (_, partitionId) => ({
    partitionId,
    leader: 0,
    partitionErrorCode: 0,
    replicas: [0],
    isr: [0],
  }));

const key = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
);

describe('Java-compatible partitioner', () => {
  it('hashes every key as kafkajs (and so the Java client) does', () => {
    fc.assert(
      fc.property(key, (k) => {
        expect(murmur2(k)).toBe(kafkajsMurmur2(k));
      }),
      { numRuns: 5000 },
    );
  });

  it('puts every keyed message on the partition kafkajs’ default partitioner picks', () => {
    const ours = JavaCompatiblePartitioner();
    const theirs = kafkajs.Partitioners.DefaultPartitioner();
    fc.assert(
      fc.property(key, fc.integer({ min: 1, max: 64 }), (k, n) => {
        const args = { topic: 't', partitionMetadata: partitions(n), message: { key: k, value: null } };
        expect(ours(args)).toBe(theirs(args));
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps an explicit partition and spreads keyless messages over the partitions with a leader', () => {
    const ours = JavaCompatiblePartitioner();
    const meta = partitions(4).map((p) => (p.partitionId === 2 ? { ...p, leader: -1 } : p));
    expect(
      ours({ topic: 't', partitionMetadata: meta, message: { key: 'a', value: null, partition: 3 } }),
    ).toBe(3);
    const seen = new Set<number>();
    for (let i = 0; i < 30; i++)
      seen.add(ours({ topic: 't', partitionMetadata: meta, message: { value: null } }));
    expect([...seen].sort()).toEqual([0, 1, 3]);
  });
});
