import kafkajs, { type Admin, type ITopicConfig } from 'kafkajs';
import { topicDefinitions, type TopicDefinition } from './definitions.js';

// kafkajs is CommonJS; its enums are only reachable through the default export under ESM
const { ConfigResourceTypes } = kafkajs;

export interface TopicDrift {
  topic: string;
  what: string;
  expected: string;
  actual: string;
}

export interface ApplyReport {
  created: string[];
  unchanged: string[];
  drift: TopicDrift[];
}

/**
 * Creates missing topics and compares existing ones with their definition. Drift is reported,
 * never "fixed" silently: shrinking partitions is impossible and changing retention or
 * compaction on a live topic is a decision for an operator.
 */
/**
 * How many copies of every partition an environment keeps: 1 on one local broker; in
 * production 3 with min.insync.replicas 2, so an acknowledged write survives the loss of a
 * broker and a write with only one copy left is refused rather than kept unsafely.
 */
export interface TopicReplication {
  factor: number;
  minInsyncReplicas: number;
}

export function replicationFromConfig(c: {
  TOPIC_REPLICATION_FACTOR: number;
  TOPIC_MIN_INSYNC_REPLICAS: number;
}): TopicReplication {
  return { factor: c.TOPIC_REPLICATION_FACTOR, minInsyncReplicas: c.TOPIC_MIN_INSYNC_REPLICAS };
}

export async function applyTopics(
  admin: Admin,
  prefix: string,
  definitions: readonly TopicDefinition[] = topicDefinitions,
  replication: TopicReplication = { factor: 1, minInsyncReplicas: 1 },
): Promise<ApplyReport> {
  const report: ApplyReport = { created: [], unchanged: [], drift: [] };
  const existing = new Set(await admin.listTopics());
  const toCreate: ITopicConfig[] = [];
  const toCheck: TopicDefinition[] = [];
  for (const def of definitions) {
    const name = prefix + def.name;
    if (existing.has(name)) toCheck.push(def);
    else
      toCreate.push({
        topic: name,
        numPartitions: def.partitions,
        replicationFactor: replication.factor,
        configEntries: Object.entries(configOf(def, replication)).map(([name, value]) => ({ name, value })),
      });
  }
  if (toCreate.length) {
    await admin.createTopics({ topics: toCreate, waitForLeaders: false });
    await waitForLeaders(
      admin,
      toCreate.map((t) => t.topic),
    );
    report.created.push(...toCreate.map((t) => t.topic));
  }
  if (toCheck.length) {
    const names = toCheck.map((d) => prefix + d.name);
    const metadata = await admin.fetchTopicMetadata({ topics: names });
    const configs = await admin.describeConfigs({
      includeSynonyms: false,
      resources: names.map((name) => ({ type: ConfigResourceTypes.TOPIC, name })),
    });
    for (const def of toCheck) {
      const name = prefix + def.name;
      const before = report.drift.length;
      const described = metadata.topics.find((t) => t.name === name)?.partitions ?? [];
      if (described.length !== def.partitions) {
        report.drift.push({
          topic: name,
          what: 'partitions',
          expected: String(def.partitions),
          actual: String(described.length),
        });
      }
      const copies = Math.min(...described.map((p) => p.replicas.length));
      if (described.length && copies !== replication.factor) {
        report.drift.push({
          topic: name,
          what: 'replication factor',
          expected: String(replication.factor),
          actual: String(copies),
        });
      }
      const entries = configs.resources.find((r) => r.resourceName === name)?.configEntries ?? [];
      for (const [key, expected] of Object.entries(configOf(def, replication))) {
        const actual = entries.find((e) => e.configName === key)?.configValue ?? '(unset)';
        if (actual !== expected) report.drift.push({ topic: name, what: key, expected, actual });
      }
      if (report.drift.length === before) report.unchanged.push(name);
    }
  }
  return report;
}

function configOf(def: TopicDefinition, replication: TopicReplication): Record<string, string> {
  return { ...def.config, 'min.insync.replicas': String(replication.minInsyncReplicas) };
}

/**
 * Waits until every partition of the new topics has a leader. kafkajs' own wait gives up when
 * the broker it asks has not heard of the topic yet (UNKNOWN_TOPIC_OR_PARTITION), which with
 * several brokers is normal for a moment: metadata reaches them one after the other.
 */
async function waitForLeaders(admin: Admin, topics: string[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const { topics: described } = await admin.fetchTopicMetadata({ topics });
      if (
        described.length === topics.length &&
        described.every((t) => t.partitions.every((p) => p.leader >= 0))
      )
        return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline)
      throw new Error(`topics without a leader after ${timeoutMs} ms: ${topics.join(', ')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
