import type { IHeaders, Kafka, Message } from 'kafkajs';
import { DLQ_HEADERS, type InputMessage } from './dead-letter.js';
import { createProducer } from './kafka.js';
import { readTopicToEnd } from './topic-reader.js';

const header = (h: IHeaders, name: string): string => {
  const v = h[name];
  return v === undefined ? '' : Array.isArray(v) ? String(v[0]) : String(v);
};

export interface DeadLetterGroup {
  topic: string;
  processor: string;
  reason: string;
  /** original messages: a dead letter is identified by where it came from (topic, partition, offset) */
  count: number;
  /** records in the topic: more than `count` when a crash made a dead letter be published twice */
  records: number;
  /** one example's detail, so an operator sees what the reason means for these messages */
  example: string;
  newestAt: number;
}

/** The identity of a dead letter: the message it stands for, whoever dead-lettered it how often. */
export function originOf(h: IHeaders): string {
  return `${header(h, DLQ_HEADERS.topic)}:${header(h, DLQ_HEADERS.partition)}:${header(h, DLQ_HEADERS.offset)}`;
}

/**
 * Dead letters of the given DLQ topics grouped by processor and reason, biggest groups first.
 * Each original message counts once in its group, however many times it was published.
 */
export async function summarizeDeadLetters(kafka: Kafka, dlqTopics: string[]): Promise<DeadLetterGroup[]> {
  const groups = new Map<string, DeadLetterGroup & { origins: Set<string> }>();
  for (const topic of dlqTopics) {
    await readTopicToEnd(kafka, topic, (m) => {
      const processor = header(m.headers, DLQ_HEADERS.processor);
      const reason = header(m.headers, DLQ_HEADERS.reason);
      const key = `${topic}|${processor}|${reason}`;
      const g = groups.get(key) ?? {
        topic,
        processor,
        reason,
        count: 0,
        records: 0,
        example: '',
        newestAt: 0,
        origins: new Set<string>(),
      };
      g.records += 1;
      g.origins.add(originOf(m.headers));
      g.count = g.origins.size;
      const at = Number(header(m.headers, DLQ_HEADERS.at)) || m.timestamp;
      if (at >= g.newestAt) {
        g.newestAt = at;
        g.example = header(m.headers, DLQ_HEADERS.detail);
      }
      groups.set(key, g);
    });
  }
  return [...groups.values()].map(({ origins: _origins, ...g }) => g).sort((a, b) => b.count - a.count);
}

export interface RedriveOptions {
  reason: string;
  processor?: string;
  limit?: number;
  dryRun?: boolean;
  /**
   * How long the processors of the original topic remember an event id (their de-duplication
   * window). An original older than that could be applied a second time: it is not redriven.
   */
  dedupeWindowMs?: number;
  now?: number;
}

export interface RedriveReport {
  matched: number;
  redriven: number;
  /** copies of the same original message (dead-lettered twice, by two processors or a crash) sent once */
  sameOriginal: number;
  /** originals older than the de-duplication window, refused */
  tooOld: number;
}

/**
 * Sends dead letters with a given reason back to the topic they came from, with their original
 * key, bytes and headers (minus the dlq.* ones, plus where they were redriven from). Processors
 * apply every event id once, so redriving twice, or redriving a message one processor had
 * accepted, changes nothing twice. Meant for after the fix: the missing catalogue entry added,
 * the producer's schema registered.
 */
export async function redriveDeadLetters(
  kafka: Kafka,
  dlqTopic: string,
  opts: RedriveOptions,
): Promise<RedriveReport> {
  const selected: { topic: string; message: Message }[] = [];
  const originals = new Set<string>();
  let matched = 0;
  let sameOriginal = 0;
  let tooOld = 0;
  const now = opts.now ?? Date.now();
  await readTopicToEnd(kafka, dlqTopic, (m: InputMessage) => {
    if (header(m.headers, DLQ_HEADERS.reason) !== opts.reason) return;
    if (opts.processor && header(m.headers, DLQ_HEADERS.processor) !== opts.processor) return;
    matched += 1;
    const topic = header(m.headers, DLQ_HEADERS.topic);
    const original = originOf(m.headers);
    if (originals.has(original)) {
      sameOriginal += 1;
      return;
    }
    const written = Number(header(m.headers, DLQ_HEADERS.timestamp)) || m.timestamp;
    if (opts.dedupeWindowMs !== undefined && now - written > opts.dedupeWindowMs) {
      originals.add(original);
      tooOld += 1;
      return;
    }
    if (opts.limit !== undefined && selected.length >= opts.limit) return;
    originals.add(original);
    const headers: IHeaders = {};
    for (const [k, v] of Object.entries(m.headers))
      if (!k.startsWith('dlq.') && v !== undefined) headers[k] = v;
    headers['dlq.redriven.from'] = `${dlqTopic}:${m.partition}:${m.offset}`;
    selected.push({ topic, message: { key: m.key, value: m.value, headers } });
  });
  if (!opts.dryRun && selected.length) {
    const producer = createProducer(kafka);
    await producer.connect();
    try {
      const byTopic = new Map<string, Message[]>();
      for (const s of selected) byTopic.set(s.topic, [...(byTopic.get(s.topic) ?? []), s.message]);
      for (const [topic, messages] of byTopic) {
        for (let i = 0; i < messages.length; i += 500) {
          await producer.send({ topic, messages: messages.slice(i, i + 500), acks: -1 });
        }
      }
    } finally {
      await producer.disconnect();
    }
  }
  return { matched, redriven: opts.dryRun ? 0 : selected.length, sameOriginal, tooOld };
}
