import { configOrExit } from '../runtime/config.js';
import { createKafka, kafkaSecurity } from '../runtime/kafka.js';
import { createLogger } from '../runtime/logger.js';
import { createRedis } from '../runtime/redis.js';
import { AvroCodec } from '../schemas/codec.js';
import { loadInventoryConfig, stockStoreOptions } from '../processors/inventory/config.js';
import { migrateLayout, rebuild, reconcile, showSku, type OpsContext } from '../processors/inventory/ops.js';
import { StockStore } from '../processors/inventory/store.js';
import { printJson } from './cli-output.js';

async function withOps<T>(fn: (ctx: OpsContext) => Promise<T>): Promise<T> {
  const config = configOrExit(loadInventoryConfig);
  const logger = createLogger('stock-ops', config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL, 2);
  const redis = createRedis(config, { maxRetriesPerRequest: 2 });
  try {
    return await fn({
      kafka: createKafka({
        brokers: config.KAFKA_BROKERS,
        clientId: 'stock-ops',
        logger,
        security: kafkaSecurity(config),
      }),
      codec: AvroCodec.fromConfig(config, config.TOPIC_PREFIX),
      store: new StockStore(redis, stockStoreOptions(config)),
      prefix: config.TOPIC_PREFIX,
      groupId: config.INVENTORY_GROUP_ID,
    });
  } finally {
    await redis.quit();
  }
}

export async function stockShow(sku: string, json = false): Promise<number> {
  return withOps(async (ctx) => {
    const report = await showSku(ctx, sku);
    if (json) {
      printJson({ sku, ...report });
      return report.state ? 0 : 1;
    }
    if (!report.state) {
      console.log(`${sku}: unknown to Redis`);
      return 1;
    }
    const s = report.state;
    console.log(
      `${sku}: on hand ${s.onHand}, reserved ${s.reserved}, available ${s.available}` +
        ` (threshold ${s.lowStockThreshold}, safety ${s.safetyStock}, version ${s.version}, catalogue v${s.catalogueVersion})`,
    );
    console.log('\nper warehouse:');
    for (const w of s.warehouses) {
      console.log(
        `  ${w.warehouseId.padEnd(16)} on hand ${String(w.onHand).padStart(6)}  reserved ${String(w.reserved).padStart(6)}  available ${String(w.available).padStart(6)}`,
      );
    }
    const f = report.forecast;
    if (f) {
      console.log('\nforecast (now):');
      console.log(
        `  velocity        ${f.demand.toFixed(2)}/h (reserved ${f.reserved.toFixed(2)}/h, sold ${f.sold.toFixed(2)}/h as of ${s.velocityAt ? new Date(s.velocityAt).toISOString() : 'no sales yet'})`,
      );
      console.log(
        `  cover           ${f.cover === undefined ? 'no demand' : `${f.cover.toFixed(1)} h`} (warns under ${f.horizon} h: lead time ${s.leadTimeHours} h + margin)`,
      );
      console.log(
        `  stock-out       ${f.predictedAt === undefined ? (s.available <= 0 ? 'out of stock now' : 'none predicted') : new Date(f.predictedAt).toISOString()}${s.stockoutPredicted ? '  [STOCKOUT_PREDICTED raised]' : ''}`,
      );
      console.log(
        `  reorder point   ${f.reorderPoint} (velocity x lead time + safety ${s.safetyStock})${f.due ? '  REORDER NOW' : ''}`,
      );
      console.log(
        `  suggestion      ${f.quantity} units (economic order quantity; order cost ${s.orderCost}, holding ${s.holdingCostPerUnitDay}/unit/day); last published: point ${s.reorderPoint}, quantity ${s.reorderQuantity}`,
      );
    }
    console.log('\nchangelog (latest last):');
    for (const h of report.history) {
      console.log(
        `  v${h.version}  on ${h.onHand}  reserved ${h.reserved}  ${h.at}  from ${h.sourceEventId}`,
      );
    }
    console.log('\nstock events (latest last):');
    for (const e of report.stockEvents) {
      console.log(
        `  ${e.at}  ${e.type.padEnd(8)} ${String(e.quantity).padStart(6)}  ${e.eventId}  ${e.reason ?? ''}`,
      );
    }
    return 0;
  });
}

export async function stockRebuild(force: boolean): Promise<number> {
  return withOps(async (ctx) => {
    const r = await rebuild(ctx, { force });
    console.log(`rebuilt ${r.skus} SKUs, ${r.orders} orders, ${r.markers} event-id markers`);
    console.log(`watermarks: ${JSON.stringify(r.watermarks)}`);
    return 0;
  });
}

export async function stockReconcile(json = false): Promise<number> {
  return withOps(async (ctx) => {
    const diffs = await reconcile(ctx);
    if (json) {
      printJson({ equal: diffs.length === 0, differences: diffs });
      return diffs.length === 0 ? 0 : 1;
    }
    for (const d of diffs)
      console.log(`${d.subject}: ${d.field} expected ${d.expected}, Redis has ${d.actual}`);
    console.log(
      diffs.length === 0
        ? 'reconcile: Redis equals the event history'
        : `reconcile: ${diffs.length} differences`,
    );
    return diffs.length === 0 ? 0 : 1;
  });
}

export async function stockMigrateLayout(): Promise<number> {
  return withOps(async (ctx) => {
    const admin = ctx.kafka.admin();
    await admin.connect();
    try {
      const [group] = (await admin.describeGroups([ctx.groupId])).groups;
      if (group && group.members.length > 0) {
        console.error(
          `migrate-layout: consumer group ${ctx.groupId} has ${group.members.length} running members; stop every stock processor first`,
        );
        return 3;
      }
    } finally {
      await admin.disconnect();
    }
    const r = await migrateLayout(ctx.store);
    console.log(`migrate-layout: moved ${r.skus} SKU records and ${r.eventIds} event ids; layout recorded`);
    return 0;
  });
}
