import type { Server } from 'node:http';
import type { Kafka, Producer } from 'kafkajs';
import type { RedisClient } from '../../runtime/lua-scripts.js';
import { healthFor, processorClients } from '../../runtime/processor-clients.js';
import type { Logger } from '../../runtime/logger.js';
import { LogSummarySink, type MetricsSink } from '../../runtime/metrics.js';
import { ProcessorRunner } from '../../runtime/processor-runner.js';
import { AvroCodec } from '../../schemas/codec.js';
import { topicName } from '../../topics/definitions.js';
import { CatalogueTable } from './catalogue.js';
import type { InventoryConfig } from './config.js';
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
      keyTag: config.INVENTORY_KEY_TAG,
      shards: config.INVENTORY_SHARDS,
      eventIdTtlSeconds: config.INVENTORY_EVENT_ID_TTL_SECONDS,
      finalOrderTtlSeconds: config.INVENTORY_FINAL_ORDER_TTL_SECONDS,
    });
  }

  async start(): Promise<void> {
    const c = this.config;
    const prefix = c.TOPIC_PREFIX;
    await this.store.checkLayout();
    const codec = AvroCodec.fromConfig(c, prefix);
    const outputs = new InventoryOutputs(codec, {
      reservationResults: topicName(prefix, 'reservation-results'),
      stockLevels: topicName(prefix, 'stock-levels'),
      alerts: topicName(prefix, 'alerts'),
    });
    await outputs.init();
    await this.producer.connect();
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
      outputs,
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
      ...(c.ORDER_SIGNING_SECRET ? { orderSigningSecret: c.ORDER_SIGNING_SECRET } : {}),
    });
    this.runner = new ProcessorRunner(this.kafka, this.producer, spec, {
      maxChunk: c.INVENTORY_MAX_CHUNK,
      partitionsConcurrently: c.INVENTORY_PARTITIONS_CONCURRENTLY,
      sessionTimeoutMs: c.INVENTORY_SESSION_TIMEOUT_MS,
      logger: this.logger,
      metrics: this.metrics,
    });
    await this.runner.start();
    this.health = await healthFor(c, this.runner, this.logger);
  }

  /** Graceful: stop fetching, finish the in-flight chunk, commit, flush metrics, close. */
  async stop(): Promise<void> {
    this.health?.close();
    await this.runner?.stop();
    await this.catalogue?.stop();
    await this.metrics.close();
    await this.producer.disconnect();
    await this.redis.quit().catch(() => undefined);
  }
}
