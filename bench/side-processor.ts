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
import type { BatchMetric } from '../runtime/metrics.js';
import { CollectingSink, phaseLatency } from './bench-kit.js';

const [checkout = '.', prefix = '', keyTag = ''] = process.argv.slice(2);
const from = async <T>(path: string) => (await import(pathToFileURL(resolve(checkout, path)).href)) as T;
const { loadInventoryConfig } = await from<{ loadInventoryConfig: typeof LoadInventoryConfig }>(
  'processors/inventory/config.ts',
);
const { InventoryService } = await from<{ InventoryService: typeof InventoryServiceClass }>(
  'processors/inventory/service.ts',
);
const { createLogger } = await from<{ createLogger: typeof CreateLogger }>('runtime/logger.ts');

/** CollectingSink, plus how far it got when (compared across processes) and this process' CPU */
class PhaseSink extends CollectingSink {
  eventsAtCollect = 0;
  /** wall-clock ms and events applied since collecting started, per chunk */
  progress: [number, number][] = [];
  cpuAtCollect = process.cpuUsage();
  override startCollecting(): void {
    super.startCollecting();
    this.eventsAtCollect = this.events;
    this.progress = [];
    this.cpuAtCollect = process.cpuUsage();
  }
  override record(m: BatchMetric): void {
    super.record(m);
    if (this.collectLatency) this.progress.push([Date.now(), this.events - this.eventsAtCollect]);
  }
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
    sink.startCollecting();
    send({ collecting: true });
  } else if (message.cmd === 'report') {
    const target = sink.eventsAtCollect + (message.events ?? 0);
    const check = () => {
      if (sink.events < target) return void setTimeout(check, 20);
      sink.collectLatency = false;
      const cpu = process.cpuUsage(sink.cpuAtCollect);
      send({ ...phaseLatency(sink), cpuMicros: cpu.user + cpu.system, progress: sink.progress });
    };
    check();
  } else if (message.cmd === 'stop') {
    void service.stop().then(() => process.exit(0));
  }
});
send({ ready: true });
