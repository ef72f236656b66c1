import type { Consumer } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { createClickHouse } from '../../observability/clickhouse.js';
import { dashboardSql, runDashboardQuery } from '../../observability/dashboard/queries.js';
import { deliverLagAlert } from '../../observability/lag/alerts.js';
import { defaultLagRules, type LagTransition } from '../../observability/lag/evaluate.js';
import { LagMonitor } from '../../observability/lag/monitor.js';
import { migrate } from '../../observability/migrate.js';
import { createProducer } from '../../runtime/kafka.js';
import { readTopicToEnd } from '../../runtime/topic-reader.js';
import type { Alert } from '../../schemas/types.js';
import { provisionPrefix, testKafka, testLogger, testStack, uniquePrefix } from '../helpers/pipeline.js';
import { waitFor } from '../helpers/processes.js';

const kafka = testKafka('lag-test');

describe('lag monitor end to end (real broker, real consumer group)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  it('a stopped consumer raises one STOP within two sample intervals, and one recovery once it caught up', async () => {
    const prefix = uniquePrefix('lag');
    const codec = await provisionPrefix(prefix);
    const topic = `${prefix}stock`;
    const group = `${prefix}watched`;
    const ch = createClickHouse({ url: testStack().clickhouseUrl, username: 'default', password: '' });
    cleanups.push(() => ch.close());
    await migrate(ch);

    const startConsumer = async (): Promise<Consumer> => {
      const consumer = kafka.consumer({ groupId: group, sessionTimeout: 6000, heartbeatInterval: 500 });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({ autoCommitInterval: 200, eachMessage: async () => undefined });
      return consumer;
    };

    const producer = createProducer(kafka);
    await producer.connect();
    cleanups.push(() => producer.disconnect());
    let producing = true;
    const load = (async () => {
      let i = 0;
      while (producing) {
        await producer.send({
          topic,
          messages: Array.from({ length: 10 }, () => ({ key: `k${i++ % 7}`, value: Buffer.from('x') })),
        });
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    const admin = kafka.admin();
    await admin.connect();
    cleanups.push(() => admin.disconnect());
    const transitions: LagTransition[] = [];
    const alerts: Alert[] = [];
    const monitor = new LagMonitor(admin, [{ group, topics: [topic] }], {
      rules: { ...defaultLagRules, windowSize: 6, stallAfterMs: 3_000, maxLagSeconds: 30 },
      historySize: 200,
      clickhouse: ch,
      logger: testLogger,
      onTransition: async (t, lag) => {
        transitions.push(t);
        alerts.push(
          await deliverLagAlert(
            { producer, codec, alertsTopic: `${prefix}alerts`, logger: testLogger },
            t,
            lag,
          ),
        );
      },
    });
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        await monitor.sampleOnce().catch(() => undefined);
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    cleanups.push(async () => {
      sampling = false;
      producing = false;
      await Promise.all([sampler, load]);
    });

    let consumer = await startConsumer();
    await waitFor('consumer keeping up', async () => {
      const [lag] = await monitor.sampleOnce();
      return lag?.status === 'OK' && lag.lagMessages < 50;
    });
    const alertsBefore = transitions.length;

    // the consumer dies while producers keep writing: the broker knows the group has no member,
    // so STOP comes within two sample intervals (500 ms here), not after a stall period
    await consumer.disconnect();
    const stoppedAt = Date.now();
    await waitFor('STOP', async () => transitions.slice(alertsBefore).some((t) => t.to === 'STOP'), 20_000);
    expect(Date.now() - stoppedAt).toBeLessThan(2 * 500 + 2_000);

    consumer = await startConsumer();
    cleanups.push(() => consumer.disconnect());
    await waitFor(
      'recovery',
      async () => transitions.slice(alertsBefore).some((t) => t.kind === 'RECOVERED'),
      60_000,
    );
    await new Promise((r) => setTimeout(r, 3_000)); // nothing more follows once it caught up
    // one alert for the stop, one recovery: nothing on the way down or back up
    expect(transitions.slice(alertsBefore).map((t) => `${t.kind}:${t.to}`)).toEqual([
      'ALERT:STOP',
      'RECOVERED:OK',
    ]);

    // the alerts are on the alerts topic, with group and how far behind
    const published: Alert[] = [];
    await readTopicToEnd(kafka, `${prefix}alerts`, async (m) => {
      published.push(await codec.decode('alerts', m.value));
    });
    const stop = published.find((a) => a.kind === 'STOP');
    expect(stop).toMatchObject({ source: 'LAG', subjectKey: group, severity: 'CRITICAL' });
    expect(stop?.attributes.worstTopic).toBe(topic);
    expect(Number(stop?.value)).toBeGreaterThan(0);
    expect(published.some((a) => a.kind === 'RECOVERED')).toBe(true);
    expect(alerts.length).toBe(published.length);

    // and every sample is in ClickHouse
    const rs = await ch.query({
      query: `SELECT count() AS n, max(lag_messages) AS maxLag FROM pipeline_metrics.consumer_lag WHERE consumer_group = '${group}'`,
      format: 'JSONEachRow',
    });
    const [row] = await rs.json<{ n: string; maxLag: string }>();
    expect(Number(row?.n)).toBeGreaterThan(10);
    expect(Number(row?.maxLag)).toBeGreaterThan(0);
    // the dashboard's view: the latest sample of each partition, all OK once the group caught up
    // (rows of the sample that saw the recovery are written just after the alert goes out)
    await waitFor(
      'dashboard lag row back to OK',
      async () => {
        const lagRows = await runDashboardQuery<{
          consumer_group: string;
          topic: string;
          statuses: string[];
        }>(ch, dashboardSql.lag());
        const mine = lagRows.find((r) => r.consumer_group === group);
        return mine?.topic === topic && mine.statuses.length === 1 && mine.statuses[0] === 'OK';
      },
      10_000,
    );
  }, 180_000);
});
