import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { ClickHouseOptions } from '../observability/clickhouse.js';
import { GRAFANA_DASHBOARD_PATH, grafanaDashboardJson } from '../observability/dashboard/grafana.js';
import { createProducer } from '../runtime/kafka.js';
import { createContext, dedupeWindowMs, type CliContext } from './context.js';
import { summarizeDeadLetters, redriveDeadLetters } from '../runtime/dlq-ops.js';
import { DEAD_LETTER_INPUTS, produceHostile } from './hostile-commands.js';
import { orderShow, shipmentShow } from './order-commands.js';
import { PROCESSORS, positionReset, positionShow } from './position-commands.js';
import { stockRebuild, stockReconcile, stockMigrateLayout, stockShow } from './stock-commands.js';
import { runDemoProducer } from './demo-producer.js';
import { replicationFromConfig } from '../topics/apply.js';
import {
  applyTopicsCommand,
  migrateClickHouseCommand,
  registerSchemasCommand,
  retentionCommand,
} from './setup.js';

const usage = `usage: npm run pipeline -- <command>

  setup                         apply topics, register schemas, migrate ClickHouse (idempotent)
  topics apply [--fail-on-drift]
                                create missing topics, report drift from topics/definitions.ts
  schemas register              register every Avro schema under BACKWARD compatibility
  demo [--rate N] [--duration S] [--skus N] [--seed N]
                                produce realistic order/stock/carrier traffic (duration 0 = until Ctrl-C)
  metrics migrate               apply the ClickHouse migrations (deploy/clickhouse/migrations)
  metrics retention [--keep-days N]
                                drop metric partitions older than N days (default 30)
  dashboard grafana             rewrite deploy/grafana/pipeline-dashboard.json from the dashboard's queries
  order show <orderId>          an order's state and every transition it went through
  shipment show <tracking>      a shipment's status and carrier timeline
  dlq list                      dead letters of every input by processor and reason, with an example
  dlq redrive --topic T --reason R [--processor P] [--limit N] [--dry-run]
                                send dead letters with that reason back to their original topic
  hostile [--rounds N]          produce every class of bad message (tagged hostile.class) into the inputs
  stock show <sku>              a SKU's stock and recent history
  stock rebuild [--force]       rebuild Redis stock state from Kafka (stock processors stopped)
  stock reconcile               compare Redis with the event history; exit 1 on any difference
  stock migrate-layout          move SKU records written by an earlier version into this version's
                                layout (stock processors stopped)
  position show [--processor P] where each processor resumes each input partition: Redis' applied
                                position, the group's committed offset, the log's bounds
  position reset --processor P --topic T --partition N --resume-at start|end|OFFSET
                                set where P resumes a partition (after a topic was recreated);
                                its processors must be stopped
`;

/** The migrating user, over TLS when the URL is https:// */
function clickHouseAdmin(c: CliContext['config']): ClickHouseOptions {
  return {
    url: c.CLICKHOUSE_URL,
    username: c.CLICKHOUSE_ADMIN_USER,
    password: c.CLICKHOUSE_ADMIN_PASSWORD,
    caFile: c.CLICKHOUSE_CA_FILE,
  };
}

function migrateClickHouse(ctx: CliContext): Promise<void> {
  const c = ctx.config;
  return migrateClickHouseCommand(clickHouseAdmin(c), ctx.logger);
}

async function main(argv: string[]): Promise<number> {
  const [command, sub, ...rest] = argv;
  const words = sub && !sub.startsWith('--') ? `${command} ${sub}` : command;
  const flags = sub && !sub.startsWith('--') ? rest : argv.slice(1);
  switch (words) {
    case 'setup': {
      const ctx = createContext('setup');
      await applyTopicsCommand(
        ctx.kafka,
        ctx.config.TOPIC_PREFIX,
        ctx.logger,
        replicationFromConfig(ctx.config),
      );
      await registerSchemasCommand(ctx.codec, ctx.config.SCHEMA_REGISTRY_URL, ctx.logger);
      await migrateClickHouse(ctx);
      return 0;
    }
    case 'metrics migrate': {
      const ctx = createContext('metrics');
      await migrateClickHouse(ctx);
      return 0;
    }
    case 'metrics retention': {
      const { values } = parseArgs({
        args: flags,
        options: { 'keep-days': { type: 'string', default: '30' } },
      });
      const ctx = createContext('metrics');
      await retentionCommand(clickHouseAdmin(ctx.config), Number(values['keep-days']), ctx.logger);
      return 0;
    }
    case 'topics apply': {
      const { values } = parseArgs({ args: flags, options: { 'fail-on-drift': { type: 'boolean' } } });
      const ctx = createContext('topics');
      const report = await applyTopicsCommand(
        ctx.kafka,
        ctx.config.TOPIC_PREFIX,
        ctx.logger,
        replicationFromConfig(ctx.config),
      );
      return values['fail-on-drift'] && report.drift.length ? 3 : 0;
    }
    case 'schemas register': {
      const ctx = createContext('schemas');
      await registerSchemasCommand(ctx.codec, ctx.config.SCHEMA_REGISTRY_URL, ctx.logger);
      return 0;
    }
    case 'demo': {
      const { values } = parseArgs({
        args: flags,
        options: {
          rate: { type: 'string', default: '200' },
          duration: { type: 'string', default: '0' },
          skus: { type: 'string', default: '500' },
          seed: { type: 'string', default: String(Date.now() % 100000) },
        },
      });
      const ctx = createContext('demo-producer');
      const abort = new AbortController();
      for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => abort.abort());
      const producer = createProducer(ctx.kafka);
      await producer.connect();
      try {
        const sent = await runDemoProducer(producer, ctx.codec, ctx.config.TOPIC_PREFIX, ctx.logger, {
          rate: Number(values.rate),
          durationSeconds: Number(values.duration),
          skus: Number(values.skus),
          seed: Number(values.seed),
          signal: abort.signal,
          ...(ctx.config.ORDER_SIGNING_SECRET ? { signingSecret: ctx.config.ORDER_SIGNING_SECRET } : {}),
        });
        ctx.logger.info({ sent }, 'demo producer stopped');
      } finally {
        await producer.disconnect();
      }
      return 0;
    }
    case 'dashboard grafana': {
      writeFileSync(GRAFANA_DASHBOARD_PATH, grafanaDashboardJson());
      console.log(`wrote ${GRAFANA_DASHBOARD_PATH}`);
      return 0;
    }
    case 'order show':
      if (!flags[0]) break;
      return orderShow(flags[0]);
    case 'shipment show':
      if (!flags[0]) break;
      return shipmentShow(flags[0]);
    case 'stock show':
      if (!flags[0]) break;
      return stockShow(flags[0]);
    case 'stock rebuild':
      return stockRebuild(flags.includes('--force'));
    case 'stock reconcile':
      return stockReconcile();
    case 'stock migrate-layout':
      return stockMigrateLayout();
    case 'position show': {
      const { values } = parseArgs({ args: flags, options: { processor: { type: 'string' } } });
      const ctx = createContext('position');
      let code = 0;
      for (const name of PROCESSORS) {
        if (values.processor && values.processor !== name) continue;
        code = Math.max(code, await positionShow(ctx, name));
      }
      return code;
    }
    case 'position reset': {
      const { values } = parseArgs({
        args: flags,
        options: {
          processor: { type: 'string' },
          topic: { type: 'string' },
          partition: { type: 'string' },
          'resume-at': { type: 'string' },
        },
      });
      const name = PROCESSORS.find((p) => p === values.processor);
      if (!name || !values.topic || values.partition === undefined || !values['resume-at']) break;
      return positionReset(
        createContext('position'),
        name,
        values.topic,
        Number(values.partition),
        values['resume-at'],
      );
    }
    case 'dlq list': {
      const ctx = createContext('dlq');
      const topics = DEAD_LETTER_INPUTS.map((t) => `${ctx.config.TOPIC_PREFIX}${t}.dlq`);
      const groups = await summarizeDeadLetters(ctx.kafka, topics);
      if (groups.length === 0) console.log('no dead letters');
      for (const g of groups) {
        const copies = g.records > g.count ? ` (${g.records} records)` : '';
        console.log(
          `${String(g.count).padStart(8)}  ${g.topic.padEnd(24)} ${g.processor.padEnd(10)} ${g.reason.padEnd(24)} ${new Date(g.newestAt).toISOString()}  ${g.example.slice(0, 100)}${copies}`,
        );
      }
      return 0;
    }
    case 'dlq redrive': {
      const { values } = parseArgs({
        args: flags,
        options: {
          topic: { type: 'string' },
          reason: { type: 'string' },
          processor: { type: 'string' },
          limit: { type: 'string' },
          'dry-run': { type: 'boolean', default: false },
        },
      });
      if (!values.topic || !values.reason) break;
      const ctx = createContext('dlq');
      const dlqTopic = values.topic.endsWith('.dlq') ? values.topic : `${values.topic}.dlq`;
      const window = dedupeWindowMs(dlqTopic.slice(0, -'.dlq'.length));
      const report = await redriveDeadLetters(ctx.kafka, ctx.config.TOPIC_PREFIX + dlqTopic, {
        reason: values.reason,
        ...(values.processor ? { processor: values.processor } : {}),
        ...(values.limit ? { limit: Number(values.limit) } : {}),
        ...(window !== undefined ? { dedupeWindowMs: window } : {}),
        dryRun: values['dry-run'],
      });
      console.log(
        `${report.matched} dead letters with reason ${values.reason}; ${values['dry-run'] ? 'would redrive' : 'redriven'} ` +
          `${values['dry-run'] ? report.matched - report.sameOriginal - report.tooOld : report.redriven} (${report.sameOriginal} were copies of the same original)`,
      );
      if (report.tooOld > 0) {
        console.log(
          `refused ${report.tooOld} older than the processors' de-duplication window ` +
            `(${Math.round((window ?? 0) / 86_400_000)} days): they could be applied twice. ` +
            'Check them by hand (npm run pipeline -- dlq list) and send them again as new events if they must be applied.',
        );
        return 3;
      }
      return 0;
    }
    case 'hostile': {
      const { values } = parseArgs({ args: flags, options: { rounds: { type: 'string', default: '1' } } });
      const ctx = createContext('hostile');
      const producer = createProducer(ctx.kafka);
      await producer.connect();
      try {
        const sent = await produceHostile(ctx, producer, Number(values.rounds));
        console.log(`produced ${sent} bad messages; see them with: npm run pipeline -- dlq list`);
      } finally {
        await producer.disconnect();
      }
      return 0;
    }
    default:
      break;
  }
  process.stderr.write(usage);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
