import { configOrExit, printableCommonConfig } from '../../runtime/config.js';
import { createKafka, createProducer, kafkaSecurity } from '../../runtime/kafka.js';
import { createLogger } from '../../runtime/logger.js';
import { Periodic } from '../../runtime/periodic.js';
import { startHealthServer } from '../../runtime/health.js';
import { onShutdown } from '../../runtime/shutdown.js';
import { AvroCodec } from '../../schemas/codec.js';
import { topicName } from '../../topics/definitions.js';
import { dashboardTopics } from '../recorded-topics.js';
import { TopicRecorder } from '../topic-recorder.js';
import { createClickHouse } from '../clickhouse.js';
import { deliverLagAlert } from './alerts.js';
import { loadLagConfig, parseTargets } from './config.js';
import { LagMonitor } from './monitor.js';
import { exportLag } from './prometheus.js';

const config = configOrExit(loadLagConfig);
const logger = createLogger('lag-monitor', config.LOG_LEVEL);
const targets = parseTargets(config.LAG_TARGETS, config.TOPIC_PREFIX);
logger.info({ config: printableCommonConfig(config), targets }, 'starting lag monitor');

const kafka = createKafka({
  brokers: config.KAFKA_BROKERS,
  clientId: `${config.KAFKA_CLIENT_ID}-lag`,
  logger,
  security: kafkaSecurity(config),
});
const admin = kafka.admin();
const producer = createProducer(kafka);
const codec = AvroCodec.fromConfig(config, config.TOPIC_PREFIX);
const clickhouse = config.METRICS_ENABLED
  ? createClickHouse({
      url: config.CLICKHOUSE_URL,
      username: config.CLICKHOUSE_USER,
      password: config.CLICKHOUSE_PASSWORD,
      caFile: config.CLICKHOUSE_CA_FILE,
    })
  : undefined;
await admin.connect();
await producer.connect();
// the dashboard reads ClickHouse only: this process, which already writes lag rows there, copies
// alerts, dead letters and order transitions into it
const recorder = clickhouse
  ? new TopicRecorder({
      kafka,
      clickhouse,
      groupId: `${config.TOPIC_PREFIX}dashboard-recorder`,
      topics: dashboardTopics(codec, config.TOPIC_PREFIX),
      logger,
    })
  : undefined;
await recorder?.start();

const monitor = new LagMonitor(admin, targets, {
  rules: {
    windowSize: config.LAG_WINDOW,
    stallAfterMs: config.LAG_STALL_AFTER_MS,
    maxLagSeconds: config.LAG_MAX_SECONDS,
    warnFloorSeconds: config.LAG_WARN_FLOOR_SECONDS,
    stopAfterSamples: config.LAG_STOP_AFTER_SAMPLES,
  },
  alerting: {
    recoverAfterSamples: config.LAG_RECOVER_AFTER_SAMPLES,
    repeatAfterMs: config.LAG_ALERT_REPEAT_MS,
  },
  historySize: 720,
  clickhouse,
  logger,
  onTransition: async (t, lag) => {
    await deliverLagAlert(
      {
        producer,
        codec,
        alertsTopic: topicName(config.TOPIC_PREFIX, 'alerts'),
        ...(config.LAG_ALERT_WEBHOOK_URL
          ? {
              webhookUrl: config.LAG_ALERT_WEBHOOK_URL,
              webhookFormat: config.LAG_ALERT_WEBHOOK_FORMAT as 'json' | 'alertmanager',
            }
          : {}),
        logger,
      },
      t,
      lag,
    );
  },
});

let lastSampleAt = Date.now();
const sampling = new Periodic(
  config.LAG_SAMPLE_INTERVAL_MS,
  async () => {
    exportLag(await monitor.sampleOnce());
    lastSampleAt = Date.now();
  },
  (err) => logger.warn({ err: err.message }, 'lag sample failed'),
);
sampling.start();
// ready while samples succeed: a monitor that cannot read offsets watches nothing
const health = config.HEALTH_PORT
  ? await startHealthServer(
      config.HEALTH_PORT,
      () => {
        const sinceMs = Date.now() - lastSampleAt;
        const ready = sinceMs < 3 * config.LAG_SAMPLE_INTERVAL_MS + 10_000;
        return { live: true, ready, detail: ready ? 'sampling' : `no successful sample for ${sinceMs} ms` };
      },
      logger,
    )
  : null;

onShutdown(logger, async () => {
  await sampling.stop();
  health?.close();
  await recorder?.stop();
  await producer.disconnect();
  await admin.disconnect();
  await clickhouse?.close();
});
