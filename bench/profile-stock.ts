/**
 * Where the stock processor's time goes: produces the benchmark's workload, then runs the real
 * processor (processors/inventory/main.ts) over it in a child process under the V8 CPU
 * profiler while Redis counts its commands.
 *
 *   node --import tsx bench/profile-stock.ts      (needs the local stack: npm run stack -- up)
 *
 * Prints the processor's, Redis' and the broker's CPU per event, Redis' INFO commandstats for
 * the run (scripts' inner commands included) and the profile's top functions; the profile is
 * kept in .run/profile/ (open it in Chrome's DevTools). Environment: BENCH_EVENTS (200000),
 * BENCH_SKUS (5000). Redis statistics are reset through the stack's default user.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { loadCommonConfig } from '../runtime/config.js';
import { createKafka } from '../runtime/kafka.js';
import { createLogger } from '../runtime/logger.js';
import { AvroCodec } from '../schemas/codec.js';
import { migrateClickHouseCommand } from '../scripts/setup.js';
import { deleteRunKeys, seedCatalogueAndStock, setupTopics } from './bench-kit.js';
import { commandStats, sampleCpu } from './cpu-meter.js';
import { summarizeProfile } from './profile-summary.js';
import { produce, SKUS } from './workload.js';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 200_000);
const common = loadCommonConfig();
const logger = createLogger('profile', 'warn');
const run = Date.now().toString(36);
const prefix = `prof-${run}-`;
const group = `${prefix}inventory`;
const kafka = createKafka({ brokers: common.KAFKA_BROKERS, clientId: 'profile', logger });
const codec = AvroCodec.connect(common.SCHEMA_REGISTRY_URL, prefix);
const redisUrl = new URL(common.REDIS_URL);
// the default user of the local stack: the pipeline's own may not reset statistics
const admin = new Redis({ host: redisUrl.hostname, port: Number(redisUrl.port || 6379) });
const profileDir = join(process.cwd(), '.run', 'profile');

function childCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function consumed(topics: string[]): Promise<number> {
  const kadmin = kafka.admin();
  await kadmin.connect();
  try {
    let total = 0;
    for (const t of await kadmin.fetchOffsets({ groupId: group, topics })) {
      for (const p of t.partitions) total += Math.max(0, Number(p.offset));
    }
    return total;
  } finally {
    await kadmin.disconnect();
  }
}

async function main() {
  await setupTopics(kafka, common.SCHEMA_REGISTRY_URL, prefix);
  // the processor writes its metrics, as in production
  await migrateClickHouseCommand(
    {
      url: common.CLICKHOUSE_URL,
      username: common.CLICKHOUSE_ADMIN_USER,
      password: common.CLICKHOUSE_ADMIN_PASSWORD,
      caFile: common.CLICKHOUSE_CA_FILE,
    },
    logger,
  );
  await seedCatalogueAndStock(kafka, codec, prefix);
  const produced = (await produce(kafka, codec, prefix, EVENTS, 1)) + SKUS;
  const topics = [`${prefix}stock`, `${prefix}orders`];
  rmSync(profileDir, { recursive: true, force: true });
  mkdirSync(profileDir, { recursive: true });
  const child = spawn(
    process.execPath,
    ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, '--import', 'tsx', 'processors/inventory/main.ts'],
    {
      env: {
        ...process.env,
        TOPIC_PREFIX: prefix,
        INVENTORY_KEY_TAG: `prof-${run}`,
        INVENTORY_GROUP_ID: group,
        LOG_LEVEL: 'warn',
        HEALTH_PORT: '0',
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const pid = child.pid as number;
  // measured from the first committed progress: startup (module loading, connecting) excluded
  while ((await consumed(topics)) === 0) await new Promise((r) => setTimeout(r, 50));
  await admin.config('RESETSTAT');
  const from = { ...(await sampleCpu(admin)), process: childCpuSeconds(pid) };
  const startCount = await consumed(topics);
  const t0 = performance.now();
  let done = startCount;
  while (done < produced) {
    await new Promise((r) => setTimeout(r, 100));
    done = await consumed(topics);
  }
  const seconds = (performance.now() - t0) / 1000;
  const to = { ...(await sampleCpu(admin)), process: childCpuSeconds(pid) };
  const stats = await commandStats(admin);
  child.kill('SIGTERM');
  await exited;
  const events = produced - startCount;
  const per = (a: number, b: number) => (((b - a) / events) * 1e6).toFixed(1);
  console.log(
    `${events} events in ${seconds.toFixed(1)} s (${Math.round(events / seconds)}/s); CPU per event: ` +
      `processor ${per(from.process, to.process)} µs, Redis ${per(from.redis, to.redis)} µs, broker ${per(from.kafka, to.kafka)} µs`,
  );
  const rows = [...stats].map(([name, c]) => ({ name, ...c })).sort((a, b) => b.usec - a.usec);
  console.log('\nRedis commands (inside scripts included)');
  for (const r of rows.slice(0, 15)) {
    console.log(
      `${r.name.padEnd(16)} ${(r.calls / events).toFixed(2).padStart(7)} per event  ` +
        `${(r.usec / r.calls).toFixed(2).padStart(9)} µs/call  ${(r.usec / events).toFixed(2).padStart(6)} µs/event`,
    );
  }
  const file = readdirSync(profileDir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(profileDir, f))
    .sort((a, b) => readFileSync(b).length - readFileSync(a).length)[0];
  if (file) console.log(summarizeProfile(file, 30));
}

main()
  .finally(() => deleteRunKeys(admin, run))
  .then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
