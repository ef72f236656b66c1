/**
 * One release's stock processor in a process of its own, for bench/latency-side-by-side.ts:
 * bench/side-processor.ts <checkout> <topic prefix> <key tag>. The processor's code comes from
 * the checkout (its own modules, Lua and node_modules); this file only counts what it applies and
 * keeps the latencies of a measured phase. Driven over the IPC channel:
 *   { cmd: 'events' }            → { events }
 *   { cmd: 'collect' }           → { collecting: true }, latencies from now on
 *   { cmd: 'report', events: n } → once n events were applied since 'collect': the phase's figures,
 *                                  with this process' CPU and when (wall clock) each chunk applied
 *   { cmd: 'stop' }              → the processor stops and the process ends
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { loadInventoryConfig as LoadInventoryConfig } from '../processors/inventory/config.js';
import type { InventoryService as InventoryServiceClass } from '../processors/inventory/service.js';
import type { createLogger as CreateLogger } from '../runtime/logger.js';
import { type BatchMetric, type MetricsSink, percentile } from '../runtime/metrics.js';

const [checkout = '.', prefix = '', keyTag = ''] = process.argv.slice(2);
const from = async <T>(path: string) => (await import(pathToFileURL(resolve(checkout, path)).href)) as T;
const { loadInventoryConfig } = await from<{ loadInventoryConfig: typeof LoadInventoryConfig }>(
  'processors/inventory/config.ts',
);
const { InventoryService } = await from<{ InventoryService: typeof InventoryServiceClass }>(
  'processors/inventory/service.ts',
);
const { createLogger } = await from<{ createLogger: typeof CreateLogger }>('runtime/logger.ts');

class PhaseSink implements MetricsSink {
  events = 0;
  collecting = false;
  eventsAtCollect = 0;
  latencies: number[] = [];
  /** the slowest event of each second of the phase: a start-up backlog, a stall or spread */
  maxBySecond: number[] = [];
  slowestChunks: { atMs: number; maxMs: number; processingMs: number; redisMs: number; publishMs: number }[] =
    [];
  /** wall-clock ms and events applied since 'collect', per chunk: how fast, compared across processes */
  progress: [number, number][] = [];
  cpuAtCollect = process.cpuUsage();
  private since = 0;
  collect(): void {
    this.collecting = true;
    this.progress = [];
    this.cpuAtCollect = process.cpuUsage();
    this.eventsAtCollect = this.events;
    this.latencies = [];
    this.maxBySecond = [];
    this.slowestChunks = [];
    this.since = performance.now();
  }
  record(m: BatchMetric): void {
    this.events += m.eventsIn;
    if (!this.collecting) return;
    let max = 0;
    for (const l of m.latenciesMs) {
      this.latencies.push(l);
      if (l > max) max = l;
    }
    this.progress.push([Date.now(), this.events - this.eventsAtCollect]);
    const atMs = Math.round(performance.now() - this.since);
    const second = Math.floor(atMs / 1000);
    this.maxBySecond[second] = Math.max(this.maxBySecond[second] ?? 0, max);
    this.slowestChunks.push({
      atMs,
      maxMs: max,
      processingMs: Math.round(m.processingMs),
      redisMs: Math.round(m.redisMs),
      publishMs: Math.round(m.publishMs ?? 0),
    });
    if (this.slowestChunks.length > 20) {
      this.slowestChunks.sort((a, b) => b.maxMs - a.maxMs);
      this.slowestChunks.length = 5;
    }
  }
  async close(): Promise<void> {}
}

const sink = new PhaseSink();
const logger = createLogger('bench-side', 'warn');
const service = new InventoryService(
  loadInventoryConfig({
    ...process.env,
    TOPIC_PREFIX: prefix,
    INVENTORY_KEY_TAG: keyTag,
    INVENTORY_GROUP_ID: `${prefix}inventory`,
    LOG_LEVEL: 'warn',
  }),
  logger,
  sink,
);
await service.start();

const send = (message: object) => process.send?.(message);
process.on('message', (raw) => {
  const message = raw as { cmd: string; events?: number };
  if (message.cmd === 'events') send({ events: sink.events });
  else if (message.cmd === 'collect') {
    sink.collect();
    send({ collecting: true });
  } else if (message.cmd === 'report') {
    const target = sink.eventsAtCollect + (message.events ?? 0);
    const check = () => {
      if (sink.events < target) return void setTimeout(check, 20);
      sink.collecting = false;
      const sorted = sink.latencies.sort((a, b) => a - b);
      const cpu = process.cpuUsage(sink.cpuAtCollect);
      send({
        cpuMicros: cpu.user + cpu.system,
        progress: sink.progress,
        events: sorted.length,
        p50Ms: percentile(sorted, 50),
        p95Ms: percentile(sorted, 95),
        p99Ms: percentile(sorted, 99),
        maxMs: sorted[sorted.length - 1] ?? 0,
        maxMsBySecond: Array.from(sink.maxBySecond, (m) => m ?? 0),
        slowestChunks: sink.slowestChunks.sort((a, b) => b.maxMs - a.maxMs).slice(0, 5),
      });
    };
    check();
  } else if (message.cmd === 'stop') {
    void service.stop().then(() => process.exit(0));
  }
});
send({ ready: true });
