import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cluster, Redis } from 'ioredis';
import type { Kafka, Message } from 'kafkajs';
import { createClickHouse } from '../observability/clickhouse.js';
import { migrate } from '../observability/migrate.js';
import { StockStore } from '../processors/inventory/store.js';
import { ShipmentStore } from '../processors/logistics/store.js';
import { OrderStore } from '../processors/orders/store.js';
import { createKafka, createProducer } from '../runtime/kafka.js';
import { committedLagByPartition } from '../runtime/group-lag.js';
import { createLogger } from '../runtime/logger.js';
import { AvroCodec } from '../schemas/codec.js';
import { registerAllSchemas } from '../schemas/register.js';
import type { SchemaTopic } from '../schemas/types.js';
import { applyTopics } from '../topics/apply.js';
import { topicDefinitions } from '../topics/definitions.js';
import { checkAgainstInputs, type OracleReport } from '../test/oracle/pipeline-oracle.js';
import { DemoTraffic, seededRandom, type DemoMessage } from './demo-traffic.js';
import { replicatedStackEnvFor } from './stack-env.js';

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
  /** the Kafka node that led the most `orders` partitions, SIGKILLed and restarted */
  kafkaNodeKilled: number | null;
  kafkaNodeDownSeconds: number;
  /** the Redis master SIGKILLed (its replica promoted), restarted later as a replica */
  redisMasterKilled: number | null;
  redisFailoverSeconds: number;
  /** Redis rolled back to a copy taken earlier (processors paused for the copy) */
  redisRollback: { copiedAtEvents: number; restoredAtEvents: number; keys: number } | null;
  clickhouseStoppedSeconds: number;
  oracle: OracleReport;
}

interface Proc {
  name: string;
  entry: string;
  env: Record<string, string>;
  child: ChildProcess | null;
  stopping: boolean;
}

interface KeyCopy {
  key: string;
  dump: Buffer;
  ttl: number;
}

/**
 * Every key of every master, at once: the processors are paused while it is taken. The masters
 * are asked of the cluster itself (`redis-masters`), not of a client's cached topology: after a
 * failover a stale list would miss the promoted replica.
 */
async function copyRedis(masterPorts: readonly number[]): Promise<KeyCopy[]> {
  const out: KeyCopy[] = [];
  for (const port of masterPorts) {
    const node = new Redis({ port, host: '127.0.0.1' });
    try {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'COUNT', 2000);
        const pipeline = node.pipeline();
        for (const key of keys) {
          pipeline.dumpBuffer(key);
          pipeline.pttl(key);
        }
        const replies = (await pipeline.exec()) ?? [];
        keys.forEach((key, i) => {
          const dump = replies[2 * i]?.[1] as Buffer | null;
          const ttl = Number(replies[2 * i + 1]?.[1] ?? -1);
          if (dump) out.push({ key, dump, ttl: ttl > 0 ? ttl : 0 });
        });
        cursor = next;
      } while (cursor !== '0');
    } finally {
      node.disconnect();
    }
  }
  return out;
}

/** Each group's state and how many partitions each member holds, for a stall's report. */
async function describeMembers(kafka: Kafka, groupIds: string[]): Promise<string> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups(groupIds);
    return groups
      .map(
        (g) =>
          `${g.groupId} ${g.state} [${g.members.map((m) => m.clientHost + ' ' + m.memberId.slice(-8)).join(', ')}]`,
      )
      .join('; ');
  } finally {
    await admin.disconnect();
  }
}

/** Redis as it was when the copy was taken: every master emptied, every key restored. */
async function restoreRedis(
  masterPorts: readonly number[],
  allPorts: readonly number[],
  copy: readonly KeyCopy[],
) {
  for (const port of masterPorts) {
    const node = new Redis({ port, host: '127.0.0.1' });
    try {
      await node.flushall();
      if ((await node.dbsize()) !== 0) throw new Error(`master ${port} not empty after FLUSHALL`);
    } finally {
      node.disconnect();
    }
  }
  const cluster = new Cluster(
    allPorts.map((port) => ({ host: '127.0.0.1', port })),
    { scaleReads: 'master' },
  );
  try {
    for (let i = 0; i < copy.length; i += 500) {
      await Promise.all(copy.slice(i, i + 500).map((c) => cluster.restore(c.key, c.ttl, c.dump, 'REPLACE')));
    }
    let keys = 0;
    for (const port of masterPorts) {
      const node = new Redis({ port, host: '127.0.0.1' });
      keys += await node.dbsize();
      node.disconnect();
    }
    if (keys !== copy.length) throw new Error(`restored ${keys} keys of a copy of ${copy.length}`);
  } finally {
    cluster.disconnect();
  }
}

/**
 * The fault run on replicated engines: a private stack with 3 Kafka nodes (replication factor 3,
 * min.insync.replicas 2) and a Redis Cluster of three masters with a replica each, every
 * processor (two stock and two order processor instances, logistics) with the replicas
 * durability policy, demo traffic at a steady rate. Meanwhile: processors SIGKILLed again and
 * again; the Kafka node leading the most order partitions killed and later restarted; a Redis
 * master killed so its replica takes over (the unreplicated tail is lost); Redis rolled back
 * once to a copy taken earlier, behind the group's committed offsets; ClickHouse stopped for a
 * while. At the end an oracle that reads only the input topics (test/oracle) says what the state
 * must be, and everything that differs is reported.
 */
export async function runFaultScenario(o: FaultScenarioOptions): Promise<FaultScenarioResult> {
  const stackEnv = replicatedStackEnvFor(o.runDir, o.basePort);
  const stack = (...args: string[]): string => {
    const res = spawnSync('bash', [join(root, 'deploy/stack.sh'), ...args], {
      env: { ...process.env, ...stackEnv },
      encoding: 'utf8',
    });
    if (res.status !== 0) throw new Error(`stack ${args.join(' ')} failed: ${res.stderr}`);
    return res.stdout;
  };
  const kafkaPorts = (stackEnv.KAFKA_REPLICATED_PORTS ?? '').split(' ');
  const redisPorts = (stackEnv.REDIS_REPLICATED_PORTS ?? '').split(' ');
  const brokers = kafkaPorts.map((p) => `127.0.0.1:${p}`);
  const registryUrl = `http://127.0.0.1:${stackEnv.REGISTRY_PORT}/apis/ccompat/v7`;
  const clickhouseUrl = `http://127.0.0.1:${stackEnv.CLICKHOUSE_HTTP_PORT}`;
  const logger = createLogger('fault-run', 'error');

  o.log('starting a private replicated stack: 3 Kafka nodes, Redis Cluster 3 masters + 3 replicas');
  // a fresh stack: the oracle reads every input topic, a previous run's events would be in them
  stack('replicated-down');
  rmSync(o.runDir, { recursive: true, force: true });
  stack('replicated-up');
  const kafka: Kafka = createKafka({ brokers, clientId: 'fault-run', logger });
  const admin = kafka.admin();
  await admin.connect();
  await applyTopics(admin, '', topicDefinitions, { factor: 3, minInsyncReplicas: 2 });
  await admin.disconnect();
  const codec = AvroCodec.connect(registryUrl, '');
  await registerAllSchemas(codec, registryUrl);
  const ch = createClickHouse({ url: clickhouseUrl, username: 'default', password: '' });
  await migrate(ch);
  await ch.close();
  const cluster = new Cluster(
    redisPorts.map((port) => ({ host: '127.0.0.1', port: Number(port) })),
    { scaleReads: 'master' },
  );
  cluster.on('error', () => undefined); // nodes are killed on purpose

  const processEnv = {
    KAFKA_BROKERS: brokers.join(','),
    SCHEMA_REGISTRY_URL: registryUrl,
    REDIS_URL: `redis://127.0.0.1:${redisPorts[0]}`,
    REDIS_CLUSTER_NODES: redisPorts.map((p) => `127.0.0.1:${p}`).join(','),
    REDIS_DURABILITY: 'replicas',
    REDIS_WAIT_REPLICAS: '1',
    REDIS_WAIT_TIMEOUT_MS: '2000',
    CLICKHOUSE_URL: clickhouseUrl,
    TOPIC_REPLICATION_FACTOR: '3',
    TOPIC_MIN_INSYNC_REPLICAS: '2',
    LOG_LEVEL: 'warn',
    INVENTORY_SESSION_TIMEOUT_MS: '6000',
    INVENTORY_SHARDS: String(o.stockShards),
    ORDERS_SESSION_TIMEOUT_MS: '6000',
    LOGISTICS_SESSION_TIMEOUT_MS: '6000',
    // a processor restarted while a broker or Redis is away waits for it instead of exiting
    STARTUP_ATTEMPTS: '40',
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
  const killAll = async () => {
    await Promise.all(
      procs.map(async (p) => {
        p.stopping = true;
        const child = p.child;
        if (!child) return;
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await gone;
      }),
    );
  };
  procs.forEach(start);

  const producer = createProducer(kafka);
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
    // a send that fails while a broker fails over is sent again: the event ids make it harmless
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
  let producing = true;
  let chaosPaused = false;
  const chaos = (async () => {
    while (producing) {
      await new Promise((r) => setTimeout(r, o.killEveryMs * (0.5 + rnd())));
      if (!producing || chaosPaused) continue;
      const p = procs[Math.floor(rnd() * procs.length)] as Proc;
      if (!p.child) continue;
      p.stopping = true;
      const victim = p.child;
      victim.kill('SIGKILL');
      await new Promise((r) => victim.once('exit', r));
      kills += 1;
      await new Promise((r) => setTimeout(r, 500 + rnd() * 2_000));
      // a pause (copy, rollback) may have restarted everyone meanwhile
      if (!chaosPaused && !p.child) start(p);
    }
  })();

  // the faults, by share of the events produced
  const at = {
    kafkaKill: 0.2,
    kafkaStart: 0.3,
    redisCopy: 0.35,
    redisKill: 0.45,
    redisStart: 0.55,
    redisRollback: 0.62,
    chStop: 0.7,
    chStart: 0.8,
  };
  const done = new Set<keyof typeof at>();
  const masters = () => stack('redis-masters').trim().split('\n').map(Number);
  let kafkaNodeKilled: number | null = null;
  let kafkaDownAt = 0;
  let kafkaNodeDownMs = 0;
  let redisMasterKilled: number | null = null;
  let redisFailoverMs = 0;
  let copy: KeyCopy[] = [];
  let copiedAt = 0;
  let redisRollback: FaultScenarioResult['redisRollback'] = null;
  let clickhouseStoppedAt = 0;
  let clickhouseStoppedMs = 0;

  const t0 = Date.now();
  const batchSize = 500;
  let produced = 0;
  let messages = 0;
  while (produced < o.events) {
    const tick = Date.now();
    const batch: DemoMessage[] = [];
    for (let i = 0; i < batchSize && produced + i < o.events; i++) batch.push(traffic.next());
    await send(batch);
    produced += batch.length;
    messages += batch.length;
    const share = produced / o.events;
    const due = (step: keyof typeof at): boolean => {
      if (done.has(step) || share < at[step]) return false;
      done.add(step);
      return true;
    };
    if (due('kafkaKill')) {
      kafkaNodeKilled = Number(stack('kafka-node-leading', 'orders').trim());
      o.log(`killing Kafka node ${kafkaNodeKilled} (leads the most order partitions) at ${produced} events`);
      stack('kafka-node-kill', String(kafkaNodeKilled));
      kafkaDownAt = Date.now();
    }
    if (due('kafkaStart') && kafkaNodeKilled !== null) {
      stack('kafka-node-start', String(kafkaNodeKilled));
      kafkaNodeDownMs = Date.now() - kafkaDownAt;
      o.log(`Kafka node ${kafkaNodeKilled} back after ${Math.round(kafkaNodeDownMs / 1000)} s`);
    }
    if (due('redisCopy')) {
      // a consistent copy of every master: nothing writes while it is taken
      chaosPaused = true;
      for (const p of procs) p.child?.kill('SIGSTOP');
      await new Promise((r) => setTimeout(r, 1_000));
      copy = await copyRedis(masters());
      for (const p of procs) p.child?.kill('SIGCONT');
      chaosPaused = false;
      copiedAt = produced;
      o.log(`copied Redis (${copy.length} keys) at ${produced} events`);
    }
    if (due('redisKill')) {
      // the master holding the first stock tag: its unreplicated writes are what failover loses
      const slot = (await cluster.cluster(
        'KEYSLOT',
        `{inv${o.stockShards > 1 ? '.0' : ''}}:layout`,
      )) as number;
      const slots = (await cluster.cluster('SLOTS')) as unknown as [number, number, [string, number]][];
      const owner = slots.find(([lo, hi]) => slot >= lo && slot <= hi)?.[2]?.[1];
      redisMasterKilled = Number(owner ?? masters()[0]);
      o.log(`killing Redis master ${redisMasterKilled} at ${produced} events`);
      const killedAt = Date.now();
      stack('redis-node-kill', String(redisMasterKilled));
      stack('redis-wait-ok');
      redisFailoverMs = Date.now() - killedAt;
      o.log(`its replica took over after ${Math.round(redisFailoverMs / 1000)} s`);
    }
    if (due('redisStart') && redisMasterKilled !== null) {
      stack('redis-node-start', String(redisMasterKilled));
      o.log(`Redis node ${redisMasterKilled} back (as a replica)`);
    }
    if (due('redisRollback') && copy.length) {
      // a restore from the copy: the processors are stopped for it, as an operator would
      chaosPaused = true;
      await killAll();
      stack('redis-wait-ok');
      await restoreRedis(masters(), redisPorts.map(Number), copy);
      redisRollback = { copiedAtEvents: copiedAt, restoredAtEvents: produced, keys: copy.length };
      o.log(`Redis rolled back to the copy of ${copiedAt} events at ${produced} events`);
      copy = [];
      procs.forEach(start);
      chaosPaused = false;
    }
    if (due('chStop')) {
      o.log(`stopping ClickHouse at ${produced} events`);
      stack('stop-one', 'clickhouse');
      clickhouseStoppedAt = Date.now();
    }
    if (due('chStart') && clickhouseStoppedAt) {
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
  for (const p of procs) if (!p.child) start(p);
  await producer.disconnect();
  o.log('all events produced; waiting for every processor to catch up');

  const groups: [string, string[]][] = [
    ['inventory', ['stock', 'orders']],
    ['orders', ['orders', 'reservation-results']],
    ['logistics', ['carrier']],
  ];
  const readers: Cluster[] = [];
  let quiet = 0;
  let lowest = Infinity;
  let lowestAt = Date.now();
  let lastReport = Date.now();
  try {
    while (quiet < 3) {
      await new Promise((r) => setTimeout(r, 2_000));
      let total = 0;
      const byGroup: string[] = [];
      for (const [g, t] of groups) {
        const lags = await committedLagByPartition(kafka, g, t).catch(() => new Map([['unknown', 1]]));
        const lag = [...lags.values()].reduce((a, b) => a + b, 0);
        total += lag;
        // which partitions hold it: a stall names where to look in the processors' logs
        byGroup.push(
          `${g} ${lag}${lag > 0 ? ` (${[...lags].map(([tp, n]) => `${tp} ${n}`).join(', ')})` : ''}`,
        );
      }
      quiet = total === 0 ? quiet + 1 : 0;
      if (Date.now() - lastReport >= 30_000 && total > 0) {
        lastReport = Date.now();
        o.log(`catching up: lag ${byGroup.join(', ')}`);
      }
      if (total < lowest) {
        lowest = total;
        lowestAt = Date.now();
      } else if (Date.now() - lowestAt > (o.catchUpStallMs ?? 180_000)) {
        const members = await describeMembers(
          kafka,
          groups.map(([g]) => g),
        ).catch((err: unknown) => String(err));
        throw new Error(`processors stopped catching up: lag ${byGroup.join(', ')}; groups ${members}`);
      }
    }
    const seconds = (Date.now() - t0) / 1000;
    // stopped gracefully: the changelog drains its last round on the way out
    for (const p of procs) {
      p.stopping = true;
      p.child?.kill('SIGTERM');
    }
    await Promise.all(
      procs.map((p) => (p.child ? new Promise((r) => p.child?.once('exit', r)) : Promise.resolve())),
    );

    o.log('checking the state against the oracle (input topics only)');
    // a client that learns the topology now, after the failover
    const reader = new Cluster(
      redisPorts.map((port) => ({ host: '127.0.0.1', port: Number(port) })),
      { scaleReads: 'master' },
    );
    readers.push(reader);
    const store = new StockStore(reader, { keyTag: 'inv', shards: o.stockShards });
    const orders = new OrderStore(reader, { keyTag: 'ord', paymentDeadlineMs: 1, finalOrderTtlSeconds: 1 });
    const shipments = new ShipmentStore(reader, { keyTag: 'shp', silenceMs: 1, finalTtlSeconds: 1 });
    const oracle = await checkAgainstInputs(kafka, codec, '', {
      sku: (sku) => store.getSku(sku),
      hold: (id) => store.getOrder(id),
      order: (id) => orders.get(id),
      shipment: (trk) => shipments.get(trk),
    });
    return {
      events: o.events,
      producedMessages: messages,
      seconds: Math.round(seconds),
      eventsPerSecond: Math.round(o.events / seconds),
      processorKills: kills,
      unexpectedExits,
      exitReasons,
      kafkaNodeKilled,
      kafkaNodeDownSeconds: Math.round(kafkaNodeDownMs / 1000),
      redisMasterKilled,
      redisFailoverSeconds: Math.round(redisFailoverMs / 1000),
      redisRollback,
      clickhouseStoppedSeconds: Math.round(clickhouseStoppedMs / 1000),
      oracle,
    };
  } finally {
    await killAll();
    cluster.disconnect();
    for (const r of readers) r.disconnect();
    // FAULT_KEEP_STACK=1 leaves the stack up to look at what the oracle reported
    if (!process.env.FAULT_KEEP_STACK) stack('replicated-down');
  }
}
