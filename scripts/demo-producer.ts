import type { Message, Producer, TopicMessages } from 'kafkajs';
import type { Logger } from '../runtime/logger.js';
import type { AvroCodec } from '../schemas/codec.js';
import { signOrderEvent } from '../schemas/order-signature.js';
import type { SchemaTopic } from '../schemas/types.js';
import { DemoTraffic, type DemoMessage } from './demo-traffic.js';

export interface DemoRunOptions {
  rate: number;
  durationSeconds: number;
  skus: number;
  seed: number;
  signal: AbortSignal;
  /** Order events are signed with it, as upstream checkout would, when signing is configured. */
  signingSecret?: string;
}

async function send(
  producer: Producer,
  codec: AvroCodec,
  prefix: string,
  batch: DemoMessage[],
  signingSecret?: string,
): Promise<void> {
  const byTopic = new Map<string, Message[]>();
  for (const m of batch) {
    const record = m.topic === 'orders' ? signOrderEvent(m.value, signingSecret) : m.value;
    const value = codec.encodeWithId(m.topic, await codec.writerId(m.topic as SchemaTopic), record as never);
    const topic = prefix + m.topic;
    const list = byTopic.get(topic) ?? [];
    list.push({ key: m.key, value, timestamp: String(Date.now()) });
    byTopic.set(topic, list);
  }
  const topicMessages: TopicMessages[] = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
  await producer.sendBatch({ topicMessages, acks: -1 });
}

/** Produces the opening catalogue and stock, then a steady mix at `rate` events/s. */
export async function runDemoProducer(
  producer: Producer,
  codec: AvroCodec,
  prefix: string,
  logger: Logger,
  opts: DemoRunOptions,
): Promise<number> {
  const traffic = new DemoTraffic({ seed: opts.seed, skus: opts.skus });
  let sent = 0;
  const opening = [...traffic.opening()];
  for (let i = 0; i < opening.length; i += 500)
    await send(producer, codec, prefix, opening.slice(i, i + 500), opts.signingSecret);
  sent += opening.length;
  logger.info({ skus: opts.skus, messages: opening.length }, 'demo opening stock and catalogue produced');

  const tickMs = 100;
  const perTick = Math.max(1, Math.round((opts.rate * tickMs) / 1000));
  const started = Date.now();
  let lastReport = started;
  let sinceReport = 0;
  while (!opts.signal.aborted) {
    if (opts.durationSeconds > 0 && Date.now() - started >= opts.durationSeconds * 1000) break;
    const tickStart = Date.now();
    const batch: DemoMessage[] = [];
    for (let i = 0; i < perTick; i++) batch.push(traffic.next());
    await send(producer, codec, prefix, batch, opts.signingSecret);
    sent += batch.length;
    sinceReport += batch.length;
    if (Date.now() - lastReport >= 10_000) {
      const secs = (Date.now() - lastReport) / 1000;
      logger.info({ eventsPerSecond: Math.round(sinceReport / secs), total: sent }, 'demo traffic');
      lastReport = Date.now();
      sinceReport = 0;
    }
    const wait = tickMs - (Date.now() - tickStart);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  return sent;
}
