/**
 * Order and logistics processors on realistic mixed traffic (the demo generator: orders placed,
 * paid, cancelled, shipped, carrier scans), each measured alone on pre-produced input like the
 * stock processor: events per second and CPU per event of the processor, Redis and the broker.
 * The stock processor runs first (not measured) so the order processor has its reservation
 * results to follow. Called by bench/stock-processor.ts; its figures go in the same results file.
 */
import type { Kafka, Message } from 'kafkajs';
import type { Redis } from 'ioredis';
import { loadInventoryConfig } from '../processors/inventory/config.js';
import { InventoryService } from '../processors/inventory/service.js';
import { loadLogisticsConfig } from '../processors/logistics/config.js';
import { LogisticsService } from '../processors/logistics/service.js';
import { loadOrdersConfig } from '../processors/orders/config.js';
import { OrdersService } from '../processors/orders/service.js';
import { createProducer } from '../runtime/kafka.js';
import type { Logger } from '../runtime/logger.js';
import type { AvroCodec } from '../schemas/codec.js';
import type { SchemaTopic } from '../schemas/types.js';
import { DemoTraffic, type DemoMessage } from '../scripts/demo-traffic.js';
import { CollectingSink } from './bench-kit.js';
import { microsPerEvent, sampleCpu, type CpuSample } from './cpu-meter.js';

export interface ProcessorFigure {
  events: number;
  eventsPerSecond: number;
  cpuMicrosPerEvent: CpuSample & { total: number };
}

async function produceTraffic(
  kafka: Kafka,
  codec: AvroCodec,
  prefix: string,
  messages: DemoMessage[],
): Promise<Map<string, number>> {
  const producer = createProducer(kafka);
  await producer.connect();
  const ids = new Map<string, number>();
  const counts = new Map<string, number>();
  for (let i = 0; i < messages.length; i += 2_000) {
    const byTopic = new Map<string, Message[]>();
    for (const m of messages.slice(i, i + 2_000)) {
      let id = ids.get(m.topic);
      if (id === undefined) ids.set(m.topic, (id = await codec.writerId(m.topic as SchemaTopic)));
      const list = byTopic.get(m.topic) ?? [];
      list.push({ key: m.key, value: codec.encodeWithId(m.topic as SchemaTopic, id, m.value as never) });
      byTopic.set(m.topic, list);
      counts.set(m.topic, (counts.get(m.topic) ?? 0) + 1);
    }
    await producer.sendBatch({
      topicMessages: [...byTopic].map(([topic, msgs]) => ({ topic: `${prefix}${topic}`, messages: msgs })),
      acks: -1,
    });
  }
  await producer.disconnect();
  return counts;
}

/** Runs one service from the start of its inputs until its sink has seen `events`. */
async function measure(
  redis: Redis,
  events: number,
  start: (sink: CollectingSink) => Promise<{ stop: () => Promise<void> }>,
): Promise<ProcessorFigure> {
  const sink = new CollectingSink();
  const cpu0 = await sampleCpu(redis);
  const service = await start(sink);
  // until every input was seen, or none came for 5 s (an input the processor does not count):
  // CPU is taken at the last progress, so waiting adds nothing to it
  let cpu1 = cpu0;
  let seen = 0;
  let lastProgress = Date.now() + 60_000; // the group join comes first
  while (sink.events < events && Date.now() - lastProgress < 5_000) {
    await new Promise((r) => setTimeout(r, 20));
    if (sink.events !== seen) {
      seen = sink.events;
      lastProgress = Date.now();
      cpu1 = await sampleCpu(redis);
    }
  }
  const cpu = microsPerEvent(cpu0, cpu1, sink.events);
  await service.stop();
  return {
    events: sink.events,
    eventsPerSecond: Math.round((sink.events / (sink.last - sink.first)) * 1000),
    cpuMicrosPerEvent: { ...cpu, total: Math.round((cpu.process + cpu.redis + cpu.kafka) * 10) / 10 },
  };
}

export async function orderAndLogisticsFigures(
  kafka: Kafka,
  codec: AvroCodec,
  redis: Redis,
  prefix: string,
  run: string,
  logger: Logger,
  count: number,
): Promise<{ orders: ProcessorFigure; logistics: ProcessorFigure; traffic: Record<string, number> }> {
  const traffic = new DemoTraffic({ seed: 77, skus: 2_000 });
  const messages = [...traffic.opening()];
  for (let i = 0; i < count; i++) messages.push(traffic.next());
  const counts = await produceTraffic(kafka, codec, prefix, messages);
  const n = (t: string) => counts.get(t) ?? 0;
  const env = {
    ...process.env,
    TOPIC_PREFIX: prefix,
    LOG_LEVEL: 'warn',
    INVENTORY_KEY_TAG: `bench-ol-${run}`,
    INVENTORY_GROUP_ID: `${prefix}inventory`,
    ORDERS_KEY_TAG: `bench-ord-${run}`,
    ORDERS_GROUP_ID: `${prefix}orders`,
    LOGISTICS_KEY_TAG: `bench-shp-${run}`,
    LOGISTICS_GROUP_ID: `${prefix}logistics`,
  };

  // the stock processor decides the reservations the order processor follows
  const stockSink = new CollectingSink();
  const stock = new InventoryService(loadInventoryConfig(env), logger, stockSink);
  await stock.start();
  while (stockSink.events < n('stock') + n('orders')) await new Promise((r) => setTimeout(r, 50));
  await stock.stop();
  const results = await topicSize(kafka, `${prefix}reservation-results`);

  const orders = await measure(redis, n('orders') + results, async (sink) => {
    const s = new OrdersService(loadOrdersConfig(env), logger, sink);
    await s.start();
    return s;
  });
  const logistics = await measure(redis, n('carrier') + n('orders'), async (sink) => {
    const s = new LogisticsService(loadLogisticsConfig(env), logger, sink);
    await s.start();
    return s;
  });
  return {
    orders,
    logistics,
    traffic: { ...Object.fromEntries(counts), 'reservation-results': results },
  };
}

async function topicSize(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
}
