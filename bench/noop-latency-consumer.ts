/**
 * Baseline for the latency figure: a do-nothing kafkajs consumer, in its own process, reading
 * the same topics at the same time. Prints one JSON line with its percentiles when it has seen
 * <events> messages: bench/noop-latency-consumer.ts <prefix> <events>
 */
import { loadCommonConfig } from '../runtime/config.js';
import { createKafka } from '../runtime/kafka.js';
import { createLogger } from '../runtime/logger.js';
import { percentile } from '../runtime/metrics.js';

const [prefix = '', events = '0'] = process.argv.slice(2);
const config = loadCommonConfig();
const kafka = createKafka({
  brokers: config.KAFKA_BROKERS,
  clientId: 'bench-noop',
  logger: createLogger('bench-noop', 'warn'),
});
const consumer = kafka.consumer({
  groupId: `${prefix}noop-latency`,
  minBytes: 16 * 1024,
  maxWaitTimeInMs: 10,
});
await consumer.connect();
for (const t of ['stock', 'orders']) await consumer.subscribe({ topic: prefix + t, fromBeginning: false });
const latencies: number[] = [];
let lastMessageAt = 0;
function report(): void {
  const sorted = latencies.sort((a, b) => a - b);
  const line = JSON.stringify({
    events: sorted.length,
    p50Ms: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    p99Ms: percentile(sorted, 99),
  });
  // stdout is a pipe: exit only once the line is flushed
  process.stdout.write(`${line}\n`, () => process.exit(0));
}
await consumer.run({
  partitionsConsumedConcurrently: 4,
  eachBatch: async ({ batch }) => {
    const now = Date.now();
    lastMessageAt = now;
    for (const m of batch.messages) latencies.push(now - Number(m.timestamp));
    if (latencies.length >= Number(events)) report();
  },
});
// the group may join after the first messages: report what it saw once the stream goes quiet
setInterval(() => {
  if (lastMessageAt && Date.now() - lastMessageAt > 3000) report();
}, 500);
process.stdout.write('ready\n');
