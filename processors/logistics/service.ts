import type { Server } from 'node:http';
import type { Kafka, Producer } from 'kafkajs';
import { checkDurability, durabilityFromConfig } from '../../runtime/durability.js';
import type { RedisClient } from '../../runtime/lua-scripts.js';
import { kafkaAlertSink } from '../../runtime/pipeline-alerts.js';
import { PermanentStartError } from '../../runtime/service-main.js';
import { healthFor, processorClients } from '../../runtime/processor-clients.js';
import type { Logger } from '../../runtime/logger.js';
import type { MetricsSink } from '../../runtime/metrics.js';
import { ProcessorRunner } from '../../runtime/processor-runner.js';
import { AvroCodec } from '../../schemas/codec.js';
import { topicName } from '../../topics/definitions.js';
import { defaultLimits } from '../inventory/commands.js';
import type { LogisticsConfig } from './config.js';
import { logisticsProcessor } from './processor.js';
import { ShipmentStore } from './store.js';
import { DelayWatch } from './watch.js';

/** The logistics processor and its delay watch, started and stopped as one. */
export class LogisticsService {
  private readonly kafka: Kafka;
  private readonly producer: Producer;
  private readonly redis: RedisClient;
  private runner: ProcessorRunner | null = null;
  private health: Server | null = null;
  private watch: DelayWatch | null = null;
  readonly store: ShipmentStore;

  constructor(
    private readonly config: LogisticsConfig,
    private readonly logger: Logger,
    private readonly metrics: MetricsSink,
  ) {
    ({
      kafka: this.kafka,
      producer: this.producer,
      redis: this.redis,
    } = processorClients(config, `${config.KAFKA_CLIENT_ID}-logistics`, logger));
    this.store = new ShipmentStore(this.redis, {
      keyTag: config.LOGISTICS_KEY_TAG,
      silenceMs: config.LOGISTICS_SILENCE_MS,
      finalTtlSeconds: config.LOGISTICS_FINAL_TTL_SECONDS,
      closeAfterMs: config.LOGISTICS_CLOSE_AFTER_SECONDS * 1000,
      durability: durabilityFromConfig(config),
    });
  }

  async start(): Promise<void> {
    const c = this.config;
    const prefix = c.TOPIC_PREFIX;
    const problems = await checkDurability(this.redis, durabilityFromConfig(c), this.logger);
    if (problems.length) throw new PermanentStartError(problems.join('; '));
    const codec = AvroCodec.fromConfig(c, prefix);
    await this.producer.connect();
    const spec = logisticsProcessor({
      groupId: c.LOGISTICS_GROUP_ID,
      topics: {
        carrier: topicName(prefix, 'carrier'),
        shipmentStatus: topicName(prefix, 'shipment-status'),
        orders: topicName(prefix, 'orders'),
        alerts: topicName(prefix, 'alerts'),
        carrierDeadLetter: topicName(prefix, 'carrier.dlq'),
      },
      codec,
      store: this.store,
      limits: defaultLimits,
      ...(c.ORDER_SIGNING_SECRET ? { orderSigningSecret: c.ORDER_SIGNING_SECRET } : {}),
    });
    this.runner = new ProcessorRunner(this.kafka, this.producer, spec, {
      redis: this.redis,
      maxChunk: c.LOGISTICS_MAX_CHUNK,
      partitionsConcurrently: 12,
      sessionTimeoutMs: c.LOGISTICS_SESSION_TIMEOUT_MS,
      stallAfterMs: c.PROCESSOR_STALL_AFTER_MS,
      logger: this.logger,
      metrics: this.metrics,
      alerts: kafkaAlertSink(this.producer, codec, topicName(prefix, 'alerts'), this.logger),
    });
    await this.runner.start();
    this.health = await healthFor(c, this.runner, this.logger);
    this.watch = new DelayWatch(this.store, this.producer, codec, {
      alertsTopic: topicName(prefix, 'alerts'),
      intervalMs: c.LOGISTICS_CHECK_INTERVAL_MS,
      leaseMs: Math.max(10_000, c.LOGISTICS_CHECK_INTERVAL_MS * 10),
      batch: 500,
      logger: this.logger,
    });
    this.watch.start();
  }

  async stop(): Promise<void> {
    this.health?.close();
    await this.watch?.stop();
    await this.runner?.stop();
    await this.metrics.close();
    await this.producer.disconnect();
    await this.redis.quit().catch(() => undefined);
  }
}
