import { writeFileSync } from 'node:fs';
import type { ParseArgsConfig } from 'node:util';
import type { ClickHouseOptions } from '../observability/clickhouse.js';
import { GRAFANA_DASHBOARD_PATH, grafanaDashboardJson } from '../observability/dashboard/grafana.js';
import { summarizeDeadLetters, redriveDeadLetters } from '../runtime/dlq-ops.js';
import { createProducer } from '../runtime/kafka.js';
import { watchSupervisor } from '../runtime/supervisor-watch.js';
import { replicationFromConfig } from '../topics/apply.js';
import { printJson } from './cli-output.js';
import { createContext, dedupeWindowMs, type CliContext } from './context.js';
import { runDemoProducer } from './demo-producer.js';
import { produceHostile } from './hostile-commands.js';
import { DEAD_LETTER_INPUTS } from '../topics/definitions.js';
import { orderShow, shipmentShow } from './order-commands.js';
import { PROCESSORS, positionReset, positionRows, printPositions } from './position-commands.js';
import {
  applyTopicsCommand,
  migrateClickHouseCommand,
  registerSchemasCommand,
  retentionCommand,
} from './setup.js';
import { stockRebuild, stockReconcile, stockMigrateLayout, stockShow } from './stock-commands.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export interface Invocation {
  /** the command's operands, in order (a SKU, an order id) */
  operands: string[];
  values: Record<string, string | boolean | undefined>;
  json: boolean;
}

export interface Command {
  /** the words that name it: `stock show` */
  name: string;
  /** what follows the name in a synopsis: `<sku>` */
  operands?: string[];
  /** one line for the command list */
  summary: string;
  /** what --help adds: behaviour, exit codes, what to do next */
  details?: string;
  /** flags and their help, besides --help (and --json for read commands) */
  options?: Options;
  optionHelp?: Record<string, string>;
  /** a read command: --json prints one JSON document instead of text */
  json?: boolean;
  run(inv: Invocation): Promise<number>;
}

/** The migrating user, over TLS when the URL is https:// */
function clickHouseAdmin(c: CliContext['config']): ClickHouseOptions {
  return {
    url: c.CLICKHOUSE_URL,
    username: c.CLICKHOUSE_ADMIN_USER,
    password: c.CLICKHOUSE_ADMIN_PASSWORD,
    caFile: c.CLICKHOUSE_CA_FILE,
  };
}

const str = (v: string | boolean | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

/** An integer flag, or a usage error naming it. */
function intFlag(inv: Invocation, flag: string): number | undefined {
  const v = str(inv.values[flag]);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${flag} takes a whole number, not "${v}"`);
  return n;
}

export class UsageError extends Error {}

export const COMMANDS: Command[] = [
  {
    name: 'setup',
    summary: 'apply topics, register schemas, migrate ClickHouse (idempotent)',
    details: 'Safe to run any number of times; `npm start` runs it before starting the processors.',
    async run() {
      const ctx = createContext('setup');
      await applyTopicsCommand(
        ctx.kafka,
        ctx.config.TOPIC_PREFIX,
        ctx.logger,
        replicationFromConfig(ctx.config),
      );
      await registerSchemasCommand(ctx.codec, ctx.config.SCHEMA_REGISTRY_URL, ctx.logger);
      await migrateClickHouseCommand(clickHouseAdmin(ctx.config), ctx.logger);
      return 0;
    },
  },
  {
    name: 'topics apply',
    summary: 'create missing topics, report drift from topics/definitions.ts',
    details: 'Exit 3 with --fail-on-drift when a topic differs from its definition (partitions, configs).',
    options: { 'fail-on-drift': { type: 'boolean' } },
    optionHelp: { 'fail-on-drift': 'exit 3 when an existing topic differs from its definition' },
    async run(inv) {
      const ctx = createContext('topics');
      const report = await applyTopicsCommand(
        ctx.kafka,
        ctx.config.TOPIC_PREFIX,
        ctx.logger,
        replicationFromConfig(ctx.config),
      );
      return inv.values['fail-on-drift'] && report.drift.length ? 3 : 0;
    },
  },
  {
    name: 'schemas register',
    summary: 'register every Avro schema under BACKWARD compatibility',
    async run() {
      const ctx = createContext('schemas');
      await registerSchemasCommand(ctx.codec, ctx.config.SCHEMA_REGISTRY_URL, ctx.logger);
      return 0;
    },
  },
  {
    name: 'demo',
    summary: 'produce realistic order/stock/carrier traffic',
    details: 'Runs until Ctrl-C when --duration is 0.',
    options: {
      rate: { type: 'string', default: '200' },
      duration: { type: 'string', default: '0' },
      skus: { type: 'string', default: '500' },
      seed: { type: 'string' },
    },
    optionHelp: {
      rate: 'events per second (default 200)',
      duration: 'seconds to run, 0 = until Ctrl-C (default 0)',
      skus: 'size of the catalogue (default 500)',
      seed: 'random seed, for a repeatable run (default: from the clock)',
    },
    async run(inv) {
      const ctx = createContext('demo-producer');
      const abort = new AbortController();
      for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, () => abort.abort());
      watchSupervisor(() => abort.abort());
      const producer = createProducer(ctx.kafka);
      await producer.connect();
      try {
        const sent = await runDemoProducer(producer, ctx.codec, ctx.config.TOPIC_PREFIX, ctx.logger, {
          rate: intFlag(inv, 'rate') ?? 200,
          durationSeconds: intFlag(inv, 'duration') ?? 0,
          skus: intFlag(inv, 'skus') ?? 500,
          seed: intFlag(inv, 'seed') ?? Date.now() % 100_000,
          signal: abort.signal,
          ...(ctx.config.ORDER_SIGNING_SECRET ? { signingSecret: ctx.config.ORDER_SIGNING_SECRET } : {}),
        });
        ctx.logger.info({ sent }, 'demo producer stopped');
      } finally {
        await producer.disconnect();
      }
      return 0;
    },
  },
  {
    name: 'metrics migrate',
    summary: 'apply the ClickHouse migrations (deploy/clickhouse/migrations)',
    async run() {
      const ctx = createContext('metrics');
      await migrateClickHouseCommand(clickHouseAdmin(ctx.config), ctx.logger);
      return 0;
    },
  },
  {
    name: 'metrics retention',
    summary: 'drop metric partitions older than N days',
    options: { 'keep-days': { type: 'string', default: '30' } },
    optionHelp: { 'keep-days': 'days of metrics to keep (default 30)' },
    async run(inv) {
      const ctx = createContext('metrics');
      await retentionCommand(clickHouseAdmin(ctx.config), intFlag(inv, 'keep-days') ?? 30, ctx.logger);
      return 0;
    },
  },
  {
    name: 'dashboard grafana',
    summary: "rewrite deploy/grafana/pipeline-dashboard.json from the dashboard's queries",
    async run() {
      writeFileSync(GRAFANA_DASHBOARD_PATH, grafanaDashboardJson());
      console.log(`wrote ${GRAFANA_DASHBOARD_PATH}`);
      return 0;
    },
  },
  {
    name: 'order show',
    operands: ['<orderId>'],
    summary: "an order's state and every transition it went through",
    details: 'Exit 1 when the order is unknown (never seen, or final and past its retention).',
    json: true,
    run: (inv) => orderShow(inv.operands[0] as string, inv.json),
  },
  {
    name: 'shipment show',
    operands: ['<trackingNumber>'],
    summary: "a shipment's status and carrier timeline",
    details: 'Exit 1 when the shipment is unknown.',
    json: true,
    run: (inv) => shipmentShow(inv.operands[0] as string, inv.json),
  },
  {
    name: 'stock show',
    operands: ['<sku>'],
    summary: "a SKU's stock and recent history",
    details:
      "On hand, reserved, available, thresholds, the SKU's changelog records and its stock events. Exit 1 when the SKU is unknown.",
    json: true,
    run: (inv) => stockShow(inv.operands[0] as string, inv.json),
  },
  {
    name: 'stock rebuild',
    summary: 'rebuild Redis stock state from Kafka (stock processors stopped)',
    details: 'Refuses while Redis holds stock state, unless --force.',
    options: { force: { type: 'boolean' } },
    optionHelp: { force: 'replace the stock state Redis holds' },
    run: (inv) => stockRebuild(inv.values.force === true),
  },
  {
    name: 'stock reconcile',
    summary: 'compare Redis with the event history; exit 1 on any difference',
    details: 'Every difference on a line of its own, then a summary line (with --json: one document).',
    json: true,
    run: (inv) => stockReconcile(inv.json),
  },
  {
    name: 'stock migrate-layout',
    summary: "move SKU records written by an earlier version into this version's layout",
    details: 'Stock processors must be stopped (exit 3 while the group has live members).',
    run: () => stockMigrateLayout(),
  },
  {
    name: 'position show',
    summary:
      "where each processor resumes each input partition: Redis' position, the group's, the log's bounds",
    details: 'Exit 1 when a partition would be refused (Redis ahead of the log).',
    options: { processor: { type: 'string' } },
    optionHelp: { processor: `only this processor (${PROCESSORS.join(', ')})` },
    json: true,
    async run(inv) {
      const only = str(inv.values.processor);
      if (only && !PROCESSORS.some((p) => p === only))
        throw new UsageError(`--processor is one of ${PROCESSORS.join(', ')}`);
      const ctx = createContext('position');
      const rows = [];
      for (const name of PROCESSORS)
        if (!only || only === name) rows.push(...(await positionRows(ctx, name)));
      if (inv.json) printJson(rows);
      else printPositions(rows);
      return rows.some((r) => r.problem === 'refused') ? 1 : 0;
    },
  },
  {
    name: 'position reset',
    summary: 'set where a processor resumes a partition (after a topic was recreated)',
    details: "The processor's instances must be stopped. --resume-at start|end|OFFSET.",
    options: {
      processor: { type: 'string' },
      topic: { type: 'string' },
      partition: { type: 'string' },
      'resume-at': { type: 'string' },
    },
    optionHelp: {
      processor: `the processor (${PROCESSORS.join(', ')})`,
      topic: 'its input topic',
      partition: 'the partition number',
      'resume-at': 'start (the log from its beginning), end (skip what is there now) or an offset',
    },
    async run(inv) {
      const name = PROCESSORS.find((p) => p === inv.values.processor);
      const topic = str(inv.values.topic);
      const partition = intFlag(inv, 'partition');
      const resumeAt = str(inv.values['resume-at']);
      if (!name || !topic || partition === undefined || !resumeAt)
        throw new UsageError('--processor, --topic, --partition and --resume-at are all required');
      return positionReset(createContext('position'), name, topic, partition, resumeAt);
    },
  },
  {
    name: 'dlq list',
    summary: 'dead letters of every input by processor and reason, with an example',
    json: true,
    async run(inv) {
      const ctx = createContext('dlq');
      const topics = DEAD_LETTER_INPUTS.map((t) => `${ctx.config.TOPIC_PREFIX}${t}.dlq`);
      const groups = await summarizeDeadLetters(ctx.kafka, topics);
      if (inv.json) {
        printJson(groups);
        return 0;
      }
      if (groups.length === 0) console.log('no dead letters');
      for (const g of groups) {
        const copies = g.records > g.count ? ` (${g.records} records)` : '';
        console.log(
          `${String(g.count).padStart(8)}  ${g.topic.padEnd(24)} ${g.processor.padEnd(10)} ${g.reason.padEnd(24)} ${new Date(g.newestAt).toISOString()}  ${g.example.slice(0, 100)}${copies}`,
        );
      }
      return 0;
    },
  },
  {
    name: 'dlq redrive',
    summary: 'send dead letters with a reason back to their original topic',
    details:
      "Copies of one original are sent once; originals older than the processors' de-duplication window are refused (exit 3): they could be applied twice.",
    options: {
      topic: { type: 'string' },
      reason: { type: 'string' },
      processor: { type: 'string' },
      limit: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
    },
    optionHelp: {
      topic: 'the input topic (or its .dlq)',
      reason: 'the dead-letter reason to redrive',
      processor: 'only those dead-lettered by this processor',
      limit: 'at most this many',
      'dry-run': 'count, send nothing',
    },
    json: true,
    async run(inv) {
      const topic = str(inv.values.topic);
      const reason = str(inv.values.reason);
      if (!topic || !reason) throw new UsageError('--topic and --reason are required');
      const ctx = createContext('dlq');
      const dlqTopic = topic.endsWith('.dlq') ? topic : `${topic}.dlq`;
      const window = dedupeWindowMs(dlqTopic.slice(0, -'.dlq'.length));
      const dryRun = inv.values['dry-run'] === true;
      const processor = str(inv.values.processor);
      const limit = intFlag(inv, 'limit');
      const report = await redriveDeadLetters(ctx.kafka, ctx.config.TOPIC_PREFIX + dlqTopic, {
        reason,
        ...(processor ? { processor } : {}),
        ...(limit !== undefined ? { limit } : {}),
        ...(window !== undefined ? { dedupeWindowMs: window } : {}),
        dryRun,
      });
      const code = report.tooOld > 0 ? 3 : 0;
      if (inv.json) {
        printJson({ ...report, dryRun, reason, topic: dlqTopic });
        return code;
      }
      console.log(
        `${report.matched} dead letters with reason ${reason}; ${dryRun ? 'would redrive' : 'redriven'} ` +
          `${dryRun ? report.matched - report.sameOriginal - report.tooOld : report.redriven} (${report.sameOriginal} were copies of the same original)`,
      );
      if (report.tooOld > 0) {
        console.log(
          `refused ${report.tooOld} older than the processors' de-duplication window ` +
            `(${Math.round((window ?? 0) / 86_400_000)} days): they could be applied twice. ` +
            'Check them by hand (pipeline dlq list) and send them again as new events if they must be applied.',
        );
      }
      return code;
    },
  },
  {
    name: 'hostile',
    summary: 'produce every class of bad message (tagged hostile.class) into the inputs',
    options: { rounds: { type: 'string', default: '1' } },
    optionHelp: { rounds: 'how many of each class (default 1)' },
    async run(inv) {
      const ctx = createContext('hostile');
      const producer = createProducer(ctx.kafka);
      await producer.connect();
      try {
        const sent = await produceHostile(ctx, producer, intFlag(inv, 'rounds') ?? 1);
        console.log(`produced ${sent} bad messages; see them with: pipeline dlq list`);
      } finally {
        await producer.disconnect();
      }
      return 0;
    },
  },
];
