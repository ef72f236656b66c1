import type { Server } from 'node:http';
import type { Kafka, Producer } from 'kafkajs';
import { checkDurability, describeDurability, durabilityFromConfig } from '../../runtime/durability.js';
import type { RedisClient } from '../../runtime/lua-scripts.js';
import { healthFor, processorClients } from '../../runtime/processor-clients.js';
import type { Logger } from '../../runtime/logger.js';
import { LogSummarySink, type MetricsSink } from '../../runtime/metrics.js';
import { kafkaAlertSink } from '../../runtime/pipeline-alerts.js';
import { ProcessorRunner } from '../../runtime/processor-runner.js';
import { PermanentStartError } from '../../runtime/service-main.js';
import { AvroCodec } from '../../schemas/codec.js';
import { topicName } from '../../topics/definitions.js';
import { CatalogueTable } from './catalogue.js';
import { ChangelogDrain } from './changelog.js';
import { stockStoreOptions, type InventoryConfig } from './config.js';
import { ReplayCorrections } from './corrections.js';
import { ForecastSweeper } from './forecast-sweeper.js';
import { HoldSweeper } from './hold-sweeper.js';
import { InventoryOutputs } from './outputs.js';
import { inventoryProcessor } from './processor.js';
import { StockStore } from './store.js';

/** The stock processor with everything it connects to, started and stopped as one. */
export class InventoryService {
  private kafka: Kafka;
  private producer: Producer;
  private redis: RedisClient;
  private runner: ProcessorRunner | null = null;
  private health: Server | null = null;
  private catalogue: CatalogueTable | null = null;
  private changelog: ChangelogDrain | null = null;
  private holds: HoldSweeper | null = null;
  private forecasts: ForecastSweeper | null = null;
  readonly store: StockStore;

  constructor(
    private readonly config: InventoryConfig,
    private readonly logger: Logger,
    private readonly metrics: MetricsSink = new LogSummarySink(logger),
  ) {
    ({
      kafka: this.kafka,
      producer: this.producer,
      redis: this.redis,
    } = processorClients(config, config.KAFKA_CLIENT_ID, logger, { enableAutoPipelining: false }));
    this.store = new StockStore(this.redis, {
      ...stockStoreOptions(config),
      durability: durabilityFromConfig(config),
    });
  }

  async start(): Promise<void> {
    const c = this.config;
    const prefix = c.TOPIC_PREFIX;
    const problems = await checkDurability(this.redis, this.store.durability, this.logger);
    if (problems.length) throw new PermanentStartError(problems.join('; '));
    this.logger.info(
      { durability: describeDurability(this.store.durability) },
      'state changes are published once durable',
    );
    await this.store.checkLayout();
    const codec = AvroCodec.fromConfig(c, prefix);
    const outputs = new InventoryOutputs(
      codec,
      {
        reservationResults: topicName(prefix, 'reservation-results'),
        stockLevels: topicName(prefix, 'stock-levels'),
        replenishment: topicName(prefix, 'replenishment'),
        alerts: topicName(prefix, 'alerts'),
      },
      c.INVENTORY_DEFAULT_WAREHOUSE,
    );
    await outputs.init();
    await this.producer.connect();
    const alerts = kafkaAlertSink(this.producer, codec, topicName(prefix, 'alerts'), this.logger);
    const limits = {
      maxQuantity: c.INVENTORY_MAX_QUANTITY,
      maxOrderLines: c.INVENTORY_MAX_ORDER_LINES,
      maxClockSkewMs: c.INVENTORY_MAX_CLOCK_SKEW_MS,
    };
    this.catalogue = new CatalogueTable(
      this.kafka,
      this.producer,
      this.store,
      codec,
      { catalogue: topicName(prefix, 'catalogue'), deadLetter: topicName(prefix, 'catalogue.dlq') },
      c.INVENTORY_GROUP_ID,
      limits,
      this.logger,
    );
    await this.catalogue.start();
    const started = Date.now();
    while (!(await this.catalogue.catchUp(10_000))) {
      this.logger.warn({ waitedMs: Date.now() - started }, 'catalogue not caught up yet; waiting');
    }
    this.logger.info({ skus: this.catalogue.size, ms: Date.now() - started }, 'catalogue loaded');

    this.changelog = new ChangelogDrain(this.store, this.producer, outputs, {
      intervalMs: c.INVENTORY_CHANGELOG_INTERVAL_MS,
      batch: 1_000,
      leaseMs: 30_000,
      graceMs: c.INVENTORY_CHANGELOG_GRACE_MS,
      logger: this.logger,
    });
    this.changelog.start();
    this.holds = new HoldSweeper(this.store, this.producer, codec, {
      ordersTopic: topicName(prefix, 'orders'),
      maxAgeMs: c.INVENTORY_HOLD_LIMIT_SECONDS * 1000,
      intervalMs: Math.min(60_000, c.INVENTORY_HOLD_LIMIT_SECONDS * 250),
      leaseMs: 60_000,
      batch: 500,
      alerts,
      logger: this.logger,
      ...(c.ORDER_SIGNING_SECRET ? { signingSecret: c.ORDER_SIGNING_SECRET } : {}),
    });
    this.holds.start();
    this.forecasts = new ForecastSweeper(this.store, {
      intervalMs: c.INVENTORY_FORECAST_SWEEP_INTERVAL_MS,
      batch: 1_000,
      logger: this.logger,
    });
    this.forecasts.start();

    const spec = inventoryProcessor({
      groupId: c.INVENTORY_GROUP_ID,
      topics: {
        stock: topicName(prefix, 'stock'),
        orders: topicName(prefix, 'orders'),
        stockDeadLetter: topicName(prefix, 'stock.dlq'),
        ordersDeadLetter: topicName(prefix, 'orders.dlq'),
      },
      codec,
      store: this.store,
      outputs,
      catalogue: this.catalogue,
      limits,
      corrections: new ReplayCorrections(this.kafka, codec, topicName(prefix, 'reservation-results')),
      ...(c.ORDER_SIGNING_SECRET ? { orderSigningSecret: c.ORDER_SIGNING_SECRET } : {}),
    });
    this.runner = new ProcessorRunner(this.kafka, this.producer, spec, {
      redis: this.redis,
      maxChunk: c.INVENTORY_MAX_CHUNK,
      partitionsConcurrently: c.INVENTORY_PARTITIONS_CONCURRENTLY,
      sessionTimeoutMs: c.INVENTORY_SESSION_TIMEOUT_MS,
      stallAfterMs: c.PROCESSOR_STALL_AFTER_MS,
      logger: this.logger,
      metrics: this.metrics,
      alerts,
    });
    await this.runner.start();
    this.health = await healthFor(c, this.runner, this.logger);
  }

  /** Graceful: stop fetching, finish the in-flight chunk, commit, flush metrics, close. */
  async stop(): Promise<void> {
    this.health?.close();
    await this.runner?.stop();
    await this.holds?.stop();
    await this.forecasts?.stop();
    // a last round, so what the final chunks changed is on the changelog before we go
    await this.changelog?.stop();
    await this.changelog?.drainOnce().catch(() => undefined);
    await this.catalogue?.stop();
    await this.metrics.close();
    await this.producer.disconnect();
    await this.redis.quit().catch(() => undefined);
  }
}
