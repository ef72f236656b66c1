import { createWriteStream, mkdirSync } from 'node:fs';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import type { Kafka, Message } from 'kafkajs';
import { createClickHouse } from '../observability/clickhouse.js';
import { migrate } from '../observability/migrate.js';
import { reconcile, type Difference } from '../processors/inventory/ops.js';
import { StockStore } from '../processors/inventory/store.js';
import { OrderStore } from '../processors/orders/store.js';
import { createKafka, createProducer } from '../runtime/kafka.js';
import { committedLag } from '../runtime/group-lag.js';
import { createLogger } from '../runtime/logger.js';
import { readTopicToEnd } from '../runtime/topic-reader.js';
import { AvroCodec } from '../schemas/codec.js';
import { registerAllSchemas } from '../schemas/register.js';
import type { SchemaTopic } from '../schemas/types.js';
import { applyTopics } from '../topics/apply.js';
import { DemoTraffic, seededRandom, type DemoMessage } from './demo-traffic.js';
import { stackEnvFor } from './stack-env.js';

const root = fileURLToPath(new URL('..', import.meta.url));

export interface FaultScenarioOptions {
  events: number;
  skus: number;
  /** hash tags the stock state is spread over (INVENTORY_SHARDS): >1 exercises orders whose
   * lines span shards (tentative holds, confirm or abort) under the same faults */
  stockShards: number;
  /** events per second the upstream producer aims at */
  rate: number;
  /** a processor is SIGKILLed this often while events flow */
  killEveryMs: number;
  basePort: number;
  runDir: string;
  seed: number;
  log: (msg: string) => void;
  /** every processor's whole log goes to <logDir>/<name>.log (default: $FAULT_LOG_DIR, or none) */
  logDir?: string;
  /** catching up fails when the lag has not fallen for this long (default 180 s) */
  catchUpStallMs?: number;
}

export interface FaultScenarioResult {
  events: number;
  producedMessages: number;
  seconds: number;
  eventsPerSecond: number;
  processorKills: number;
  unexpectedExits: number;
  /** how each unexpected exit ended: the last log line that said why */
  exitReasons: string[];
  kafkaRestarts: number;
  redisRestarts: number;
  clickhouseStoppedSeconds: number;
  stockDifferences: Difference[];
  oversoldSkus: string[];
  ordersChecked: number;
  ordersLost: string[];
  ordersWithDoubleApplied: string[];
}

interface Proc {
  name: string;
  entry: string;
  env: Record<string, string>;
  child: ChildProcess | null;
  stopping: boolean;
}

/**
 * The fault run: a private stack, every processor (two stock and two order processor instances in
 * their groups), demo traffic
 * at a steady rate, and meanwhile processors SIGKILLed again and again, the Kafka broker and
 * Redis restarted once each, ClickHouse stopped for a while. At the end the stock state must
 * equal the model computed from Kafka (reconcile), nothing oversold, every order present with
 * each transition applied once.
 */
export async function runFaultScenario(o: FaultScenarioOptions): Promise<FaultScenarioResult> {
  const stackEnv = stackEnvFor(o.runDir, o.basePort);
  const stack = (...args: string[]) => {
    const res = spawnSync('bash', [join(root, 'deploy/stack.sh'), ...args], {
      env: { ...process.env, ...stackEnv },
      encoding: 'utf8',
    });
    if (res.status !== 0) throw new Error(`stack ${args.join(' ')} failed: ${res.stderr}`);
  };
  const brokers = [`127.0.0.1:${stackEnv.KAFKA_PORT}`];
  const registryUrl = `http://127.0.0.1:${stackEnv.REGISTRY_PORT}/apis/ccompat/v7`;
  const redisUrl = `redis://127.0.0.1:${stackEnv.REDIS_PORT}`;
  const clickhouseUrl = `http://127.0.0.1:${stackEnv.CLICKHOUSE_HTTP_PORT}`;
  const logger = createLogger('fault-run', 'error');

  o.log('starting a private stack');
  stack('up');
  const kafka: Kafka = createKafka({ brokers, clientId: 'fault-run', logger });
  const admin = kafka.admin();
  await admin.connect();
  await applyTopics(admin, '');
  await admin.disconnect();
  const codec = AvroCodec.connect(registryUrl, '');
  await registerAllSchemas(codec, registryUrl);
  const ch = createClickHouse({ url: clickhouseUrl, username: 'default', password: '' });
  await migrate(ch);
  await ch.close();

  const processEnv = {
    KAFKA_BROKERS: brokers.join(','),
    SCHEMA_REGISTRY_URL: registryUrl,
    REDIS_URL: redisUrl,
    CLICKHOUSE_URL: clickhouseUrl,
    LOG_LEVEL: 'warn',
    INVENTORY_SESSION_TIMEOUT_MS: '6000',
    INVENTORY_SHARDS: String(o.stockShards),
    ORDERS_SESSION_TIMEOUT_MS: '6000',
    LOGISTICS_SESSION_TIMEOUT_MS: '6000',
  };
  const procs: Proc[] = [
    { name: 'inventory-a', entry: 'processors/inventory/main.ts', env: {}, child: null, stopping: false },
    { name: 'inventory-b', entry: 'processors/inventory/main.ts', env: {}, child: null, stopping: false },
    { name: 'orders-a', entry: 'processors/orders/main.ts', env: {}, child: null, stopping: false },
    { name: 'orders-b', entry: 'processors/orders/main.ts', env: {}, child: null, stopping: false },
    { name: 'logistics', entry: 'processors/logistics/main.ts', env: {}, child: null, stopping: false },
  ];
  const logDir = o.logDir ?? process.env.FAULT_LOG_DIR;
  if (logDir) mkdirSync(logDir, { recursive: true });
  let unexpectedExits = 0;
  const exitReasons: string[] = [];
  const start = (p: Proc) => {
    p.stopping = false;
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, p.entry)], {
      cwd: root,
      env: { ...process.env, ...processEnv, ...p.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let tail = '';
    const keepTail = (d: Buffer) => {
      tail = (tail + d.toString()).slice(-4_000);
    };
    child.stderr?.on('data', keepTail);
    child.stdout?.on('data', keepTail);
    // the whole log of every processor, for a run that ends in a surprise
    if (logDir) {
      const log = createWriteStream(join(logDir, `${p.name}.log`), { flags: 'a' });
      child.stdout?.pipe(log);
      child.stderr?.pipe(log);
    }
    child.once('exit', (code, signal) => {
      if (p.child !== child) return;
      p.child = null;
      // a supervisor (Kubernetes, systemd) restarts a processor that died: so do we, and count it
      if (!p.stopping) {
        unexpectedExits += 1;
        const why = tail
          .split('\n')
          .filter((l) => /"level":(50|60)/.test(l))
          .at(-1);
        exitReasons.push(
          `${p.name} exit ${code ?? signal}: ${(why ?? tail.split('\n').at(-2) ?? '').slice(0, 300)}`,
        );
        setTimeout(() => start(p), 1_000);
      }
    });
    p.child = child;
  };
  procs.forEach(start);

  const producer = createProducer(kafka, {
    retry: { retries: 30, initialRetryTime: 300, maxRetryTime: 5_000 },
  });
  await producer.connect();
  const traffic = new DemoTraffic({ seed: o.seed, skus: o.skus });
  const ids = new Map<string, number>();
  const send = async (batch: DemoMessage[]) => {
    const byTopic = new Map<string, Message[]>();
    for (const m of batch) {
      let id = ids.get(m.topic);
      if (id === undefined) {
        id = await codec.writerId(m.topic as SchemaTopic);
        ids.set(m.topic, id);
      }
      const list = byTopic.get(m.topic) ?? [];
      list.push({ key: m.key, value: codec.encodeWithId(m.topic as SchemaTopic, id, m.value as never) });
      byTopic.set(m.topic, list);
    }
    // a send that fails while the broker restarts is sent again: the event ids make it harmless
    for (;;) {
      try {
        await producer.sendBatch({
          topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
          acks: -1,
        });
        return;
      } catch (err) {
        o.log(`send failed (${(err as Error).message}); retrying`);
        await new Promise((r) => setTimeout(r, 1_000));
      }
    }
  };
  await send([...traffic.opening()]);

  const rnd = seededRandom(o.seed + 1);
  let kills = 0;
  let kafkaRestarts = 0;
  let redisRestarts = 0;
  let clickhouseStoppedAt = 0;
  let clickhouseStoppedMs = 0;
  let producing = true;
  const chaos = (async () => {
    while (producing) {
      await new Promise((r) => setTimeout(r, o.killEveryMs * (0.5 + rnd())));
      if (!producing) break;
      const p = procs[Math.floor(rnd() * procs.length)] as Proc;
      if (!p.child) continue;
      p.stopping = true;
      const victim = p.child;
      victim.kill('SIGKILL');
      await new Promise((r) => victim.once('exit', r));
      kills += 1;
      await new Promise((r) => setTimeout(r, 500 + rnd() * 2_000));
      start(p);
    }
  })();

  const t0 = Date.now();
  const batchSize = 500;
  let produced = 0;
  let messages = 0;
  const milestones = { kafka: 0.3, redis: 0.5, chStop: 0.6, chStart: 0.75 };
  while (produced < o.events) {
    const tick = Date.now();
    const batch: DemoMessage[] = [];
    for (let i = 0; i < batchSize && produced + i < o.events; i++) batch.push(traffic.next());
    await send(batch);
    produced += batch.length;
    messages += batch.length;
    const done = produced / o.events;
    if (kafkaRestarts === 0 && done >= milestones.kafka) {
      o.log(`restarting the Kafka broker at ${produced} events`);
      stack('restart-one', 'kafka');
      kafkaRestarts += 1;
    }
    if (redisRestarts === 0 && done >= milestones.redis) {
      o.log(`restarting Redis (AOF) at ${produced} events`);
      stack('restart-one', 'redis');
      redisRestarts += 1;
    }
    if (!clickhouseStoppedAt && done >= milestones.chStop) {
      o.log(`stopping ClickHouse at ${produced} events`);
      stack('stop-one', 'clickhouse');
      clickhouseStoppedAt = Date.now();
    }
    if (clickhouseStoppedAt && !clickhouseStoppedMs && done >= milestones.chStart) {
      stack('start-one', 'clickhouse');
      clickhouseStoppedMs = Date.now() - clickhouseStoppedAt;
      o.log(`ClickHouse back after ${Math.round(clickhouseStoppedMs / 1000)} s`);
    }
    if (produced % 50_000 < batchSize) o.log(`${produced} events produced, ${kills} processor kills so far`);
    const wait = (batch.length / o.rate) * 1000 - (Date.now() - tick);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  producing = false;
  await chaos;
  await producer.disconnect();
  o.log('all events produced; waiting for every processor to catch up');

  const lagOf = (group: string, topics: string[]) => committedLag(kafka, group, topics);
  const groups: [string, string[]][] = [
    ['inventory', ['stock', 'orders']],
    ['orders', ['orders', 'reservation-results']],
    ['logistics', ['carrier']],
  ];
  let quiet = 0;
  let lowest = Infinity;
  let lowestAt = Date.now();
  while (quiet < 3) {
    await new Promise((r) => setTimeout(r, 2_000));
    let total = 0;
    const byGroup: string[] = [];
    for (const [g, t] of groups) {
      const lag = await lagOf(g, t).catch(() => 1);
      total += lag;
      byGroup.push(`${g} ${lag}`);
    }
    quiet = total === 0 ? quiet + 1 : 0;
    if (total < lowest) {
      lowest = total;
      lowestAt = Date.now();
    } else if (Date.now() - lowestAt > (o.catchUpStallMs ?? 180_000)) {
      // a stuck processor fails the run with what is behind, instead of waiting forever;
      // it leaves no process and no port behind
      for (const p of procs) {
        p.stopping = true;
        p.child?.kill('SIGKILL');
      }
      stack('down');
      throw new Error(`processors stopped catching up: lag ${byGroup.join(', ')}`);
    }
  }
  const seconds = (Date.now() - t0) / 1000;
  for (const p of procs) {
    p.stopping = true;
    p.child?.kill('SIGTERM');
  }
  await Promise.all(
    procs.map((p) => (p.child ? new Promise((r) => p.child?.once('exit', r)) : Promise.resolve())),
  );

  o.log('checking the state against the model');
  const redis = new Redis(redisUrl);
  try {
    const store = new StockStore(redis, { keyTag: 'inv', shards: o.stockShards });
    const stockDifferences = await reconcile({ kafka, codec, store, prefix: '', groupId: 'inventory' });
    const counted = new Set<string>();
    await readTopicToEnd(kafka, 'stock', async (m) => {
      const e = await codec.decode('stock', m.value).catch(() => null);
      if (e?.type === 'COUNTED') counted.add(e.sku);
    });
    const oversoldSkus: string[] = [];
    for (let i = 0; i < o.skus; i++) {
      const sku = traffic.sku(i);
      const s = await store.getSku(sku);
      if (s && s.reserved > s.onHand && !counted.has(sku)) oversoldSkus.push(sku);
    }

    const orderStore = new OrderStore(redis, {
      keyTag: 'ord',
      paymentDeadlineMs: 1,
      finalOrderTtlSeconds: 1,
    });
    const placed = new Set<string>();
    await readTopicToEnd(kafka, 'orders', async (m) => {
      const e = await codec.decode('orders', m.value).catch(() => null);
      if (e?.type === 'PLACED') placed.add(e.orderId);
    });
    const ordersLost: string[] = [];
    const ordersWithDoubleApplied: string[] = [];
    for (const id of placed) {
      const record = await orderStore.get(id);
      if (!record) {
        ordersLost.push(id);
        continue;
      }
      const ns = record.history.map((t) => t.n);
      const applied = record.history.map((t) => `${t.src}>${t.to}`);
      if (ns.some((n, i) => n !== i + 1) || new Set(applied).size !== applied.length)
        ordersWithDoubleApplied.push(id);
    }
    return {
      events: o.events,
      producedMessages: messages,
      seconds: Math.round(seconds),
      eventsPerSecond: Math.round(o.events / seconds),
      processorKills: kills,
      unexpectedExits,
      exitReasons,
      kafkaRestarts,
      redisRestarts,
      clickhouseStoppedSeconds: Math.round(clickhouseStoppedMs / 1000),
      stockDifferences,
      oversoldSkus,
      ordersChecked: placed.size,
      ordersLost,
      ordersWithDoubleApplied,
    };
  } finally {
    await redis.quit();
    stack('down');
  }
}
