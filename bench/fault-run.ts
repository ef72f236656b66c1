/**
 * The fault-injection run (not in CI; a short version of it is): at least a million mixed
 * order/stock/carrier events through every processor while processors are SIGKILLed again and
 * again, the Kafka broker and Redis are restarted once each and ClickHouse is stopped for a
 * while; then the stock state is reconciled against the model computed from Kafka.
 *
 *   npm run fault:run              (starts and stops its own stack on ports 27xxx)
 *
 * Environment: FAULT_EVENTS (1000000), FAULT_RATE (4000 events/s), FAULT_SKUS (500),
 * FAULT_KILL_EVERY_MS (10000). Writes bench/results/fault-run.json; exits 1 on any difference.
 */
import { join } from 'node:path';
import { runFaultScenario } from '../scripts/fault-scenario.js';
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
  seed: 20_261_125,
  log: (msg) => console.log(`[fault-run] ${msg}`),
});
const clean =
  result.stockDifferences.length === 0 &&
  result.oversoldSkus.length === 0 &&
  result.ordersLost.length === 0 &&
  result.ordersWithDoubleApplied.length === 0;
const file = writeResults('fault-run', {
  started,
  machine: describeMachine(),
  verdict: clean ? 'zero differences' : 'DIFFERENCES FOUND',
  ...result,
  stockDifferences: result.stockDifferences.slice(0, 50),
  stockDifferenceCount: result.stockDifferences.length,
  ordersLost: result.ordersLost.slice(0, 50),
  ordersWithDoubleApplied: result.ordersWithDoubleApplied.slice(0, 50),
});
console.log(
  `[fault-run] ${result.events} events in ${result.seconds} s (${result.eventsPerSecond}/s), ` +
    `${result.processorKills} SIGKILLs, ${result.unexpectedExits} unexpected exits, Kafka restarted ${result.kafkaRestarts}x, ` +
    `Redis restarted ${result.redisRestarts}x, ClickHouse down ${result.clickhouseStoppedSeconds} s`,
);
console.log(
  `[fault-run] stock differences ${result.stockDifferences.length}, oversold SKUs ${result.oversoldSkus.length}, ` +
    `orders checked ${result.ordersChecked}, lost ${result.ordersLost.length}, double-applied ${result.ordersWithDoubleApplied.length}`,
);
console.log(`[fault-run] results in ${file}`);
process.exit(clean ? 0 : 1);
