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
import type { OrdersConfig } from './config.js';
import { ExpirySweeper } from './expiry.js';
import { orderProcessor } from './processor.js';
import { StaleOrderSweeper } from './stale.js';
import { OrderStore } from './store.js';

/** The order processor and its payment-deadline sweeper, started and stopped as one. */
export class OrdersService {
  private readonly kafka: Kafka;
  private readonly producer: Producer;
  private readonly redis: RedisClient;
  private runner: ProcessorRunner | null = null;
  private health: Server | null = null;
  private sweeper: ExpirySweeper | null = null;
  private stale: StaleOrderSweeper | null = null;
  readonly store: OrderStore;

  constructor(
    private readonly config: OrdersConfig,
    private readonly logger: Logger,
    private readonly metrics: MetricsSink,
  ) {
    ({
      kafka: this.kafka,
      producer: this.producer,
      redis: this.redis,
    } = processorClients(config, `${config.KAFKA_CLIENT_ID}-orders`, logger));
    this.store = new OrderStore(this.redis, {
      keyTag: config.ORDERS_KEY_TAG,
      paymentDeadlineMs: config.ORDERS_PAYMENT_DEADLINE_MS,
      finalOrderTtlSeconds: config.ORDERS_FINAL_TTL_SECONDS,
      staleAfterMs: config.ORDERS_STALE_AFTER_SECONDS * 1000,
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
    const secret = c.ORDER_SIGNING_SECRET ? { orderSigningSecret: c.ORDER_SIGNING_SECRET } : {};
    const spec = orderProcessor({
      groupId: c.ORDERS_GROUP_ID,
      topics: {
        orders: topicName(prefix, 'orders'),
        reservationResults: topicName(prefix, 'reservation-results'),
        orderStatus: topicName(prefix, 'order-status'),
        alerts: topicName(prefix, 'alerts'),
        ordersDeadLetter: topicName(prefix, 'orders.dlq'),
      },
      codec,
      store: this.store,
      // the same order-shape rules as the stock processor's defaults
      limits: defaultLimits,
      ...secret,
    });
    this.runner = new ProcessorRunner(this.kafka, this.producer, spec, {
      redis: this.redis,
      maxChunk: c.ORDERS_MAX_CHUNK,
      partitionsConcurrently: 12,
      sessionTimeoutMs: c.ORDERS_SESSION_TIMEOUT_MS,
      stallAfterMs: c.PROCESSOR_STALL_AFTER_MS,
      logger: this.logger,
      metrics: this.metrics,
      alerts: kafkaAlertSink(this.producer, codec, topicName(prefix, 'alerts'), this.logger),
    });
    await this.runner.start();
    this.health = await healthFor(c, this.runner, this.logger);
    this.sweeper = new ExpirySweeper(this.store, this.producer, codec, {
      ordersTopic: topicName(prefix, 'orders'),
      intervalMs: c.ORDERS_EXPIRY_SWEEP_MS,
      leaseMs: Math.max(10_000, c.ORDERS_EXPIRY_SWEEP_MS * 10),
      batch: 500,
      ...(c.ORDER_SIGNING_SECRET ? { signingSecret: c.ORDER_SIGNING_SECRET } : {}),
      logger: this.logger,
    });
    this.sweeper.start();
    this.stale = new StaleOrderSweeper(this.store, this.producer, codec, {
      alertsTopic: topicName(prefix, 'alerts'),
      intervalMs: Math.min(60_000, c.ORDERS_STALE_AFTER_SECONDS * 250),
      leaseMs: 60_000,
      batch: 500,
      logger: this.logger,
    });
    this.stale.start();
  }

  /** Graceful: stop sweeping and fetching, finish in-flight chunks, commit, flush, close. */
  async stop(): Promise<void> {
    this.health?.close();
    await this.sweeper?.stop();
    await this.stale?.stop();
    await this.runner?.stop();
    await this.metrics.close();
    await this.producer.disconnect();
    await this.redis.quit().catch(() => undefined);
  }
}
