import { Gauge } from 'prom-client';
import { metricsRegistry } from '../../runtime/prometheus.js';
import { STATUS_RANK, type LagStatus } from './evaluate.js';
import type { GroupLag } from './monitor.js';

const STATUSES = Object.keys(STATUS_RANK) as LagStatus[];
const partitionLabels = ['group', 'topic', 'partition'] as const;

const lagMessages = new Gauge({
  name: 'pipeline_consumer_lag_messages',
  help: 'Messages between the group committed offset and the log end, per partition.',
  labelNames: partitionLabels,
  registers: [metricsRegistry],
});
const lagSeconds = new Gauge({
  name: 'pipeline_consumer_lag_seconds',
  help: 'How long ago the first unconsumed message was appended (a lower bound when older than the sample history).',
  labelNames: partitionLabels,
  registers: [metricsRegistry],
});
const partitionStatus = new Gauge({
  name: 'pipeline_consumer_partition_status',
  help: 'Burrow-style status of a partition: 1 on the current status (OK, WARN, REWIND, STALL, STOP, ERR), 0 on the others.',
  labelNames: [...partitionLabels, 'status'],
  registers: [metricsRegistry],
});
const groupStatus = new Gauge({
  name: 'pipeline_consumer_group_status',
  help: 'Status of a consumer group, its worst partition: 1 on the current status, 0 on the others.',
  labelNames: ['group', 'status'],
  registers: [metricsRegistry],
});
const groupLag = new Gauge({
  name: 'pipeline_consumer_group_lag_messages',
  help: 'Messages behind, summed over the group partitions.',
  labelNames: ['group'],
  registers: [metricsRegistry],
});
const samples = new Gauge({
  name: 'pipeline_lag_last_sample_timestamp_seconds',
  help: 'When the lag monitor last sampled every group successfully (alert when it stops moving).',
  registers: [metricsRegistry],
});

/** Sets the gauges from one sample of every group: the figures the alerts were decided on. */
export function exportLag(groups: readonly GroupLag[], now = Date.now()): void {
  for (const g of groups) {
    groupLag.set({ group: g.group }, g.lagMessages);
    for (const s of STATUSES) groupStatus.set({ group: g.group, status: s }, s === g.status ? 1 : 0);
    for (const p of g.partitions) {
      const labels = { group: g.group, topic: p.topic, partition: String(p.partition) };
      lagMessages.set(labels, p.verdict.lagMessages);
      lagSeconds.set(labels, p.verdict.lagSeconds.seconds);
      for (const s of STATUSES) partitionStatus.set({ ...labels, status: s }, s === p.verdict.status ? 1 : 0);
    }
  }
  samples.set(now / 1000);
}
