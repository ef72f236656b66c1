/**
 * Stock processor on sharded state: throughput of one instance with its stock spread over 1 or
 * N hash tags, on one Redis and on a three-node Redis Cluster, and of two instances in one group
 * on the cluster, against the one-tag, one-Redis run measured in the same run (the baseline).
 * Shows what spreading costs and what the cluster costs; on one machine, where every process
 * shares the same cores, it cannot show what more machines would add.
 *
 *   npm run bench:shards     (starts the demo stack and its Redis Cluster if they are not up)
 *
 * Environment: BENCH_EVENTS (100000), BENCH_SKUS (5000), BENCH_SHARDS (6).
 * Writes bench/results/stock-shards.json.
 */
import { spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { loadInventoryConfig } from '../processors/inventory/config.js';
import { StockShards } from '../processors/inventory/shards.js';
import { InventoryService } from '../processors/inventory/service.js';
import { loadCommonConfig } from '../runtime/config.js';
import { createKafka } from '../runtime/kafka.js';
import { createLogger } from '../runtime/logger.js';
import { createRedis } from '../runtime/redis.js';
import { AvroCodec } from '../schemas/codec.js';
import { committedLag } from '../runtime/group-lag.js';
import { CollectingSink, deleteRunKeys, seedCatalogueAndStock, setupTopics } from './bench-kit.js';
import { describeMachine, writeResults, runMain } from './machine.js';
import { produce, SKUS, workload } from './workload.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 100_000);
const SHARDS = Number(process.env.BENCH_SHARDS ?? 6);
const log = (msg: string) => console.log(`[bench] ${msg}`);

function stack(command: string): void {
  const res = spawnSync('bash', ['deploy/stack.sh', command], { stdio: 'inherit' });
  if (res.status !== 0) throw new Error(`deploy/stack.sh ${command} failed`);
}

function clusterNodes(): string[] {
  const ports = (process.env.REDIS_CLUSTER_PORTS ?? '16400 16401 16402').split(/\s+/).filter(Boolean);
  return ports.map((p) => `127.0.0.1:${p}`);
}

/** Share of the workload's orders whose lines fall on more than one of `shards` tags. */
function spanningShare(shards: number): number {
  const s = new StockShards('x', shards);
  let orders = 0;
  let spanning = 0;
  for (const e of workload(EVENTS, 1)) {
    if (e.topic !== 'orders' || !('lines' in e.value) || e.value.type !== 'PLACED') continue;
    orders += 1;
    if (s.group(e.value.lines).size > 1) spanning += 1;
  }
  return Math.round((spanning / Math.max(1, orders)) * 1000) / 1000;
}

async function main() {
  stack('up');
  stack('cluster-up');
  const common = loadCommonConfig();
  const logger = createLogger('bench', 'warn');
  const run = Date.now().toString(36);
  const prefix = `shards-${run}-`;
  const kafka = createKafka({ brokers: common.KAFKA_BROKERS, clientId: 'bench', logger });
  const codec = AvroCodec.connect(common.SCHEMA_REGISTRY_URL, prefix);
  await setupTopics(kafka, common.SCHEMA_REGISTRY_URL, prefix);
  await seedCatalogueAndStock(kafka, codec, prefix);
  const produced = (await produce(kafka, codec, prefix, EVENTS, 1)) + SKUS;
  log(`produced ${produced} input events over ${SKUS} SKUs`);

  const configs = [
    { name: 'one Redis, 1 tag (baseline)', cluster: false, shards: 1, instances: 1 },
    { name: `one Redis, ${SHARDS} tags`, cluster: false, shards: SHARDS, instances: 1 },
    { name: 'Redis Cluster (3 nodes), 1 tag', cluster: true, shards: 1, instances: 1 },
    { name: `Redis Cluster (3 nodes), ${SHARDS} tags`, cluster: true, shards: SHARDS, instances: 1 },
    {
      name: `Redis Cluster (3 nodes), ${SHARDS} tags, 2 instances`,
      cluster: true,
      shards: SHARDS,
      instances: 2,
    },
  ];
  const topics = [`${prefix}stock`, `${prefix}orders`];
  const results = [];
  for (const [i, c] of configs.entries()) {
    const sink = new CollectingSink();
    const tag = `sb-${run}-${i}`;
    const cfg = loadInventoryConfig({
      ...process.env,
      TOPIC_PREFIX: prefix,
      INVENTORY_KEY_TAG: tag,
      INVENTORY_GROUP_ID: `${prefix}inventory-${i}`,
      INVENTORY_SHARDS: String(c.shards),
      REDIS_CLUSTER_NODES: c.cluster ? clusterNodes().join(',') : '',
      METRICS_ENABLED: 'false',
      LOG_LEVEL: 'warn',
    });
    // instances of one group in this process; done when the group has committed everything
    // (a rebalance redelivers some events, so counting what the sink saw would overstate)
    const services = Array.from({ length: c.instances }, () => new InventoryService(cfg, logger, sink));
    await Promise.all(services.map((s) => s.start()));
    while ((await committedLag(kafka, cfg.INVENTORY_GROUP_ID, topics)) > 0) {
      await new Promise((r) => setTimeout(r, 200));
    }
    const rate = (produced / (sink.last - sink.first)) * 1000;
    await Promise.all(services.map((s) => s.stop()));
    // the run's keys go: the next configuration starts from the same empty state
    const redis = createRedis({ REDIS_URL: cfg.REDIS_URL, REDIS_CLUSTER_NODES: cfg.REDIS_CLUSTER_NODES });
    // a cluster client knows its nodes only once it has connected
    if ('nodes' in redis && redis.status !== 'ready') await new Promise((r) => redis.once('ready', r));
    const servers = 'nodes' in redis ? redis.nodes('master') : [redis];
    const keysPerServer: number[] = [];
    for (const server of servers) {
      let n = 0;
      let cursor = '0';
      do {
        const [next, keys] = await server.scan(cursor, 'MATCH', `{${tag}*`, 'COUNT', 5000);
        n += keys.length;
        for (const k of keys) await redis.unlink(k);
        cursor = next;
      } while (cursor !== '0');
      keysPerServer.push(n);
    }
    redis.disconnect();
    results.push({ ...c, eventsPerSecond: Math.round(rate), keysPerServer });
    log(`${c.name}: ${Math.round(rate)} events/s; keys per server ${keysPerServer.join('/')}`);
  }
  const baseline = results[0]?.eventsPerSecond ?? 1;
  const out = {
    benchmark: 'stock-shards',
    at: new Date().toISOString(),
    machine: describeMachine(),
    parameters: { events: produced, skus: SKUS, shards: SHARDS, ordersSpanningShards: spanningShare(SHARDS) },
    runs: results.map((r) => ({
      ...r,
      ratioVsBaseline: Math.round((r.eventsPerSecond / baseline) * 100) / 100,
    })),
  };
  const file = writeResults('stock-shards', out);
  console.log(
    `\n${out.runs.map((r) => `${r.name}: ${r.eventsPerSecond}/s (${r.ratioVsBaseline}x)`).join('\n')}\n` +
      `orders spanning ${SHARDS} tags: ${Math.round(out.parameters.ordersSpanningShards * 100)} %\nresults: ${file}`,
  );
  // the single Redis' share of what the runs left (the cluster's nodes keep theirs until cluster-down)
  const redis = new Redis(common.REDIS_URL);
  log(`removed the run's ${await deleteRunKeys(redis, run)} keys from the single Redis`);
  await redis.quit();
}

runMain(main);
