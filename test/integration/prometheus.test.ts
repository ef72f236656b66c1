import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AvroCodec } from '../../schemas/codec.js';
import { provisionPrefix, testKafka, uniquePrefix } from '../helpers/pipeline.js';
import { freePort, groupLag, killAll, spawnProcessor, waitFor } from '../helpers/processes.js';
import { order, product, stock, TestProducer } from '../helpers/produce.js';
import { deleteTag, testRedis, uniqueTag } from '../helpers/redis.js';

/** One sample of the text exposition format: value by name and labels, parsed independently of prom-client. */
type Samples = Map<string, number>;

async function scrape(port: number): Promise<{ samples: Samples; contentType: string }> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(res.status).toBe(200);
  const samples: Samples = new Map();
  for (const line of (await res.text()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return { samples, contentType: res.headers.get('content-type') ?? '' };
}

/** Sum of every sample of `name` whose labels include all of `labels`. */
function total(samples: Samples, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const [key, value] of samples) {
    const brace = key.indexOf('{');
    if ((brace < 0 ? key : key.slice(0, brace)) !== name) continue;
    if (Object.entries(labels).every(([k, v]) => key.includes(`${k}="${v}"`))) sum += value;
  }
  return sum;
}

describe('Prometheus /metrics of a real processor and of the lag monitor', () => {
  const prefix = uniquePrefix('prom');
  const tag = uniqueTag('prom');
  const group = `${prefix}inventory`;
  const kafka = testKafka('prom-test');
  let codec: AvroCodec;
  let redis: Redis;

  beforeAll(async () => {
    codec = await provisionPrefix(prefix);
    redis = testRedis();
  });
  afterAll(async () => {
    await killAll();
    await deleteTag(redis, tag);
    await redis.quit();
  });

  it('counts what was processed, and the lag monitor exports the lag it measured', async () => {
    const producer = new TestProducer(kafka, codec, prefix);
    await producer.connect();
    await producer.send('catalogue', [{ key: 'P-1', value: product('P-1', 5) }]);
    const receipts = Array.from({ length: 300 }, (_, i) => ({
      key: 'P-1',
      value: stock(`ps-${i}`, 'P-1', 'RECEIVED', 2),
    }));
    await producer.send('stock', receipts);
    await producer.send('stock', receipts.slice(0, 20)); // re-sent: duplicates
    await producer.sendRaw('stock', [
      { key: 'P-1', value: Buffer.from('garbage') },
      { key: 'P-1', value: Buffer.from('more garbage') },
    ]);
    await producer.send(
      'orders',
      Array.from({ length: 100 }, (_, i) => ({
        key: `po-${i}`,
        value: order({
          eventId: `po-${i}`,
          orderId: `po-${i}`,
          type: 'PLACED',
          lines: [{ sku: 'P-1', quantity: 1, unitPriceMinor: null }],
        }),
      })),
    );

    const processorPort = await freePort();
    const proc = spawnProcessor('processors/inventory/main.ts', {
      TOPIC_PREFIX: prefix,
      INVENTORY_KEY_TAG: tag,
      INVENTORY_GROUP_ID: group,
      INVENTORY_SESSION_TIMEOUT_MS: '6000',
      METRICS_ENABLED: 'false',
      HEALTH_PORT: String(processorPort),
    });
    const monitorPort = await freePort();
    spawnProcessor('observability/lag/main.ts', {
      TOPIC_PREFIX: prefix,
      LAG_TARGETS: `${group}=stock,orders`,
      LAG_SAMPLE_INTERVAL_MS: '500',
      METRICS_ENABLED: 'false',
      HEALTH_PORT: String(monitorPort),
    });
    const inputs = [`${prefix}stock`, `${prefix}orders`];
    await waitFor('caught up', async () => (await groupLag(kafka, group, inputs)) === 0, 90_000);

    const { samples, contentType } = await scrape(processorPort);
    expect(contentType).toContain('text/plain');
    const stockTopic = { processor: 'inventory', topic: `${prefix}stock` };
    const ordersTopic = { processor: 'inventory', topic: `${prefix}orders` };
    expect(total(samples, 'pipeline_events_in_total', stockTopic)).toBe(322);
    expect(total(samples, 'pipeline_events_applied_total', stockTopic)).toBe(300);
    expect(total(samples, 'pipeline_events_duplicate_total', stockTopic)).toBe(20);
    expect(total(samples, 'pipeline_dead_letters_total', stockTopic)).toBe(2);
    expect(total(samples, 'pipeline_events_in_total', ordersTopic)).toBe(100);
    expect(total(samples, 'pipeline_events_applied_total', ordersTopic)).toBe(100);
    // one latency observation per event, and no event slower than the whole test
    expect(total(samples, 'pipeline_event_latency_seconds_count', { processor: 'inventory' })).toBe(422);
    expect(total(samples, 'pipeline_event_latency_seconds_bucket', { ...stockTopic, le: '+Inf' })).toBe(322);
    expect(
      total(samples, 'pipeline_chunk_duration_seconds_count', { processor: 'inventory' }),
    ).toBeGreaterThan(0);
    expect(total(samples, 'process_cpu_seconds_total', {})).toBeGreaterThan(0);

    // the processor stops; 50 more stock events wait for it: the monitor must say 50 behind
    proc.child.kill('SIGTERM');
    expect((await proc.exited).code, proc.output()).toBe(0);
    await producer.send(
      'stock',
      Array.from({ length: 50 }, (_, i) => ({
        key: `P-${i % 3}`,
        value: stock(`pl-${i}`, 'P-1', 'RECEIVED', 1),
      })),
    );
    await producer.disconnect();
    await waitFor(
      'the monitor sees the backlog',
      async () =>
        total((await scrape(monitorPort)).samples, 'pipeline_consumer_group_lag_messages', { group }) === 50,
      30_000,
    );
    const lag = (await scrape(monitorPort)).samples;
    expect(total(lag, 'pipeline_consumer_lag_messages', { group, topic: `${prefix}stock` })).toBe(50);
    expect(total(lag, 'pipeline_consumer_lag_messages', { group, topic: `${prefix}orders` })).toBe(0);
    // exactly one status is current for the group
    expect(total(lag, 'pipeline_consumer_group_status', { group })).toBe(1);
    expect(total(lag, 'pipeline_lag_last_sample_timestamp_seconds', {})).toBeGreaterThan(
      Date.now() / 1000 - 30,
    );
  }, 180_000);
});
