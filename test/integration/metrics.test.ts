import { createClient } from '@clickhouse/client';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse } from '../../observability/clickhouse.js';
import { dashboardSql, lastMinutes, runDashboardQuery } from '../../observability/dashboard/queries.js';
import { migrate } from '../../observability/migrate.js';
import type { AvroCodec } from '../../schemas/codec.js';
import { provisionPrefix, testKafka, testStack, uniquePrefix } from '../helpers/pipeline.js';
import { groupLag, killAll, spawnProcessor, waitFor } from '../helpers/processes.js';
import { order, product, stock, TestProducer } from '../helpers/produce.js';
import { deleteTag, testRedis, uniqueTag } from '../helpers/redis.js';

describe('batch metrics in ClickHouse from a real processor run', () => {
  const prefix = uniquePrefix('metrics');
  const tag = uniqueTag('metrics');
  const group = `${prefix}inventory`;
  const kafka = testKafka('metrics-test');
  let codec: AvroCodec;
  let redis: Redis;
  const admin = () => createClickHouse({ url: testStack().clickhouseUrl, username: 'default', password: '' });

  beforeAll(async () => {
    codec = await provisionPrefix(prefix);
    redis = testRedis();
    const client = admin();
    await migrate(client);
    await client.close();
  });

  afterAll(async () => {
    await killAll();
    await deleteTag(redis, tag);
    await redis.quit();
  });

  it('counts match the events processed and the per-minute rollup agrees with the raw rows', async () => {
    const producer = new TestProducer(kafka, codec, prefix);
    await producer.connect();
    await producer.send('catalogue', [{ key: 'M-1', value: product('M-1', 5) }]);
    await producer.send(
      'stock',
      Array.from({ length: 300 }, (_, i) => ({ key: 'M-1', value: stock(`ms-${i}`, 'M-1', 'RECEIVED', 2) })),
    );
    await producer.send(
      'orders',
      Array.from({ length: 200 }, (_, i) => ({
        key: `mo-${i}`,
        value: order({
          eventId: `mo-${i}`,
          orderId: `mo-${i}`,
          type: 'PLACED',
          lines: [{ sku: 'M-1', quantity: 1, unitPriceMinor: null }],
        }),
      })),
    );
    await producer.sendRaw('stock', [
      { key: 'M-1', value: Buffer.from('garbage') },
      { key: 'M-1', value: Buffer.from('more garbage') },
    ]);
    await producer.disconnect();

    const proc = spawnProcessor('processors/inventory/main.ts', {
      TOPIC_PREFIX: prefix,
      INVENTORY_KEY_TAG: tag,
      INVENTORY_GROUP_ID: group,
      INVENTORY_SESSION_TIMEOUT_MS: '6000',
      METRICS_ENABLED: 'true',
    });
    await waitFor(
      'caught up',
      async () => (await groupLag(kafka, group, [`${prefix}stock`, `${prefix}orders`])) === 0,
      90_000,
    );
    proc.child.kill('SIGTERM'); // graceful stop flushes the last metrics
    expect((await proc.exited).code, proc.output()).toBe(0);

    // what dashboards read, through the read-only user
    const reader = createClient({
      url: testStack().clickhouseUrl,
      username: 'dashboard_reader',
      password: process.env.CLICKHOUSE_READER_PASSWORD ?? 'reader-local-only',
    });
    const one = async <T>(query: string): Promise<T> => {
      const rs = await reader.query({ query, format: 'JSONEachRow' });
      return (await rs.json<T>())[0] as T;
    };
    const raw = await one<{ events: string; dead: string; applied: string; batches: string }>(
      `SELECT sum(events_in) AS events, sum(dead_lettered) AS dead, sum(applied) AS applied, count() AS batches
       FROM pipeline_metrics.batches WHERE consumer_group = '${group}'`,
    );
    expect(Number(raw.events)).toBe(502);
    expect(Number(raw.dead)).toBe(2);
    expect(Number(raw.applied)).toBe(500);
    const rollup = await one<{ events: string; dead: string; batches: string; q: number[] }>(
      `SELECT sumMerge(events_in) AS events, sumMerge(dead_lettered) AS dead, countMerge(batches) AS batches,
              quantilesTDigestArrayMerge(0.5, 0.95, 0.99)(latency) AS q
       FROM pipeline_metrics.batches_1m WHERE consumer_group = '${group}'`,
    );
    expect(Number(rollup.events)).toBe(Number(raw.events));
    expect(Number(rollup.dead)).toBe(Number(raw.dead));
    expect(Number(rollup.batches)).toBe(Number(raw.batches));
    expect(rollup.q[0]).toBeLessThanOrEqual(rollup.q[2] as number);

    // the dashboard's own queries, through the same read-only user
    const throughput = await runDashboardQuery<{
      processor: string;
      events_per_second: number;
      dead_lettered: string;
    }>(reader, dashboardSql.throughput(lastMinutes(60)));
    expect(throughput.some((r) => r.processor === 'inventory' && Number(r.events_per_second) > 0)).toBe(true);
    const latency = await runDashboardQuery<{ processor: string; q: number[] }>(
      reader,
      dashboardSql.latency(lastMinutes(60)),
    );
    expect(latency.find((r) => r.processor === 'inventory')?.q).toHaveLength(3);
    expect(() => lastMinutes(Number('1; DROP TABLE x'))).toThrow(RangeError);
    expect(() => lastMinutes('1; DROP TABLE x')).toThrow(RangeError);

    // the dashboard user cannot write
    await expect(
      reader.command({ query: `INSERT INTO pipeline_metrics.batches (processor) VALUES ('x')` }),
    ).rejects.toThrow(/readonly|Cannot execute query in readonly mode/i);
    await reader.close();
  });
});
