/**
 * The fault-injection run (not in CI; a short version of it is) on replicated engines: at least
 * a million mixed order/stock/carrier events through every processor while processors are
 * SIGKILLed again and again, the Kafka node leading the most order partitions is killed and
 * restarted, a Redis master is killed (its replica promoted), Redis is rolled back once to an
 * earlier copy and ClickHouse is stopped for a while; then an oracle that reads only the input
 * topics checks the state (test/oracle/pipeline-oracle.ts).
 *
 *   npm run fault:run              (starts and stops its own replicated stack on ports 27xxx)
 *
 * Environment: FAULT_EVENTS (1000000), FAULT_RATE (4000 events/s), FAULT_SKUS (500),
 * FAULT_KILL_EVERY_MS (10000), FAULT_STOCK_SHARDS (4). Writes bench/results/fault-run.json;
 * exits 1 on any difference.
 */
import { join } from 'node:path';
import { runFaultScenario } from '../scripts/fault-scenario.js';
import { oracleClean } from '../test/oracle/pipeline-oracle.js';
import { describeMachine, writeResults } from './machine.js';

const env = (name: string, dflt: number) => Number(process.env[name] ?? dflt);
const started = new Date().toISOString();
const result = await runFaultScenario({
  events: env('FAULT_EVENTS', 1_000_000),
  rate: env('FAULT_RATE', 4_000),
  skus: env('FAULT_SKUS', 500),
  stockShards: env('FAULT_STOCK_SHARDS', 4),
  killEveryMs: env('FAULT_KILL_EVERY_MS', 10_000),
  basePort: 27_000,
  runDir: join(process.cwd(), '.run/fault-run'),
  seed: 20_261_130,
  log: (msg) => console.log(`[fault-run] ${msg}`),
  logDir: join(process.cwd(), '.run/fault-run/logs'),
});
const o = result.oracle;
const clean = oracleClean(o) && result.exitReasons.length === 0;
const cap = <T>(list: T[]) => list.slice(0, 50);
const file = writeResults('fault-run', {
  started,
  machine: describeMachine(),
  verdict: clean ? 'zero differences' : 'DIFFERENCES FOUND',
  ...result,
  oracle: {
    ...o,
    stockDifferences: cap(o.stockDifferences),
    holdDifferences: cap(o.holdDifferences),
    orderDifferences: cap(o.orderDifferences),
    ordersLost: cap(o.ordersLost),
    ordersDoubleApplied: cap(o.ordersDoubleApplied),
    shipmentDifferences: cap(o.shipmentDifferences),
    changelogDifferences: cap(o.changelogDifferences),
    counts: {
      stockDifferences: o.stockDifferences.length,
      holdDifferences: o.holdDifferences.length,
      orderDifferences: o.orderDifferences.length,
      ordersLost: o.ordersLost.length,
      ordersDoubleApplied: o.ordersDoubleApplied.length,
      shipmentDifferences: o.shipmentDifferences.length,
      changelogDifferences: o.changelogDifferences.length,
    },
  },
});
console.log(
  `[fault-run] ${result.events} events in ${result.seconds} s (${result.eventsPerSecond}/s), ` +
    `${result.processorKills} SIGKILLs, ${result.unexpectedExits} unexpected exits, Kafka node ${result.kafkaNodeKilled} down ${result.kafkaNodeDownSeconds} s, ` +
    `Redis master ${result.redisMasterKilled} failed over in ${result.redisFailoverSeconds} s, ` +
    `rollback ${JSON.stringify(result.redisRollback)}, ClickHouse down ${result.clickhouseStoppedSeconds} s`,
);
console.log(
  `[fault-run] oracle: ${o.inputs.orders} orders, ${o.inputs.skus} SKUs; stock differences ${o.stockDifferences.length}, ` +
    `oversold ${o.oversold.length}, holds ${o.holdDifferences.length}, order fates ${o.orderDifferences.length}, ` +
    `lost ${o.ordersLost.length}, double-applied ${o.ordersDoubleApplied.length}, shipments ${o.shipmentDifferences.length}, ` +
    `changelog ${o.changelogDifferences.length}; corrections ${o.corrections}, ` +
    `dead letters ${o.deadLetters.originals} (${o.deadLetters.records} records)`,
);
for (const [reason, { originals, detail }] of Object.entries(o.deadLetters.byReason)) {
  console.log(`[fault-run]   dead letters ${reason}: ${originals} (e.g. ${detail})`);
}
const u = o.deadLetters.unknownOrder;
console.log(
  `[fault-run]   "no such order" dead letters by where they stand in the orders topic: ` +
    `${u.beforePlacement} before their order's PLACED, ${u.neverPlaced} of orders never placed, ` +
    `${u.afterPlacement} after it`,
);
for (const e of u.afterExamples) console.log(`[fault-run]     after its PLACED: ${JSON.stringify(e)}`);
console.log(`[fault-run] results in ${file}`);
process.exit(clean ? 0 : 1);
