import { afterAll, describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import { applyTopics } from '../../topics/apply.js';
import { topicDefinitions } from '../../topics/definitions.js';
import { testKafka, uniquePrefix } from '../helpers/pipeline.js';

const { ConfigResourceTypes } = kafkajs;

describe('topics as code against the real broker', () => {
  const prefix = uniquePrefix('topics');
  const admin = testKafka('topics-test').admin();

  it('creates every topic once; a second apply changes nothing', async () => {
    await admin.connect();
    const first = await applyTopics(admin, prefix);
    expect(first.created.sort()).toEqual(topicDefinitions.map((d) => prefix + d.name).sort());
    expect(first.drift).toEqual([]);

    const second = await applyTopics(admin, prefix);
    expect(second.created).toEqual([]);
    expect(second.drift).toEqual([]);
    expect(second.unchanged).toHaveLength(topicDefinitions.length);

    const meta = await admin.fetchTopicMetadata({ topics: [`${prefix}stock`] });
    expect(meta.topics[0]?.partitions).toHaveLength(6);
  });

  it('reports drift in configuration and partitions instead of silently changing a live topic', async () => {
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: `${prefix}orders`,
          configEntries: [{ name: 'retention.ms', value: '1000' }],
        },
      ],
    });
    await admin.createPartitions({ topicPartitions: [{ topic: `${prefix}alerts`, count: 5 }] });
    // the broker applies both changes through its metadata log: poll until they are visible
    let report = await applyTopics(admin, prefix);
    for (let i = 0; i < 40 && report.drift.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 250));
      report = await applyTopics(admin, prefix);
    }
    expect(report.created).toEqual([]);
    expect(report.drift).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ topic: `${prefix}orders`, what: 'retention.ms', actual: '1000' }),
        expect.objectContaining({ topic: `${prefix}alerts`, what: 'partitions', expected: '3', actual: '5' }),
      ]),
    );
    expect(report.drift).toHaveLength(2);
  });

  afterAll(async () => {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    await admin.deleteTopics({ topics });
    await admin.disconnect();
  });
});
