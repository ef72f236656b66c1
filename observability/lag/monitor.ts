import type { ClickHouseClient } from '@clickhouse/client';
import type { Admin } from 'kafkajs';
import type { Logger } from '../../runtime/logger.js';
import { METRICS_DATABASE, toClickHouseDateTime } from '../clickhouse.js';
import {
  evaluatePartition,
  LagAlerter,
  worstStatus,
  type AlerterOptions,
  type GroupMembers,
  type LagRules,
  type LagTransition,
  type PartitionSample,
  type PartitionVerdict,
} from './evaluate.js';

export interface LagTarget {
  group: string;
  topics: string[];
}

export interface GroupLag {
  group: string;
  status: ReturnType<typeof worstStatus>;
  lagMessages: number;
  partitions: { topic: string; partition: number; verdict: PartitionVerdict }[];
}

export interface LagMonitorOptions {
  rules: LagRules;
  /** Recovery hysteresis and flap damping of the alerts (evaluate.ts). */
  alerting?: AlerterOptions;
  /** Samples kept per partition for lag-in-seconds interpolation. */
  historySize: number;
  onTransition: (t: LagTransition, lag: GroupLag) => Promise<void>;
  clickhouse?: ClickHouseClient;
  logger: Logger;
}

/**
 * Samples committed and log-end offsets of the configured groups, evaluates them and reports
 * transitions. Log-end offsets are read every sample whether or not the group commits, so lag
 * grows visibly behind a consumer that stopped.
 */
export class LagMonitor {
  private readonly history = new Map<string, PartitionSample[]>();
  private readonly alerter: LagAlerter;
  private readonly members = new Map<string, GroupMembers>();

  constructor(
    private readonly admin: Admin,
    private readonly targets: LagTarget[],
    private readonly options: LagMonitorOptions,
  ) {
    this.alerter = new LagAlerter(options.alerting);
  }

  /** Live members per the broker, and for how many samples in a row there were none. */
  private observeMembers(group: string, active: boolean, now: number): GroupMembers {
    const before = this.members.get(group);
    const m: GroupMembers = active
      ? { active: true, absentSamples: 0, absentSince: null }
      : {
          active: false,
          absentSamples: (before?.absentSamples ?? 0) + 1,
          absentSince: before?.absentSince ?? now,
        };
    this.members.set(group, m);
    return m;
  }

  async sampleOnce(now = Date.now()): Promise<GroupLag[]> {
    const results: GroupLag[] = [];
    const rows: Record<string, unknown>[] = [];
    for (const target of this.targets) {
      const [committed, described] = await Promise.all([
        this.admin.fetchOffsets({ groupId: target.group, topics: target.topics }),
        this.admin.describeGroups([target.group]),
      ]);
      const members = this.observeMembers(target.group, (described.groups[0]?.members.length ?? 0) > 0, now);
      const partitions: GroupLag['partitions'] = [];
      for (const topic of target.topics) {
        const ends = await this.admin.fetchTopicOffsets(topic);
        const mine = committed.find((c) => c.topic === topic)?.partitions ?? [];
        for (const p of ends) {
          const c = Number(mine.find((m) => m.partition === p.partition)?.offset ?? -1);
          const key = `${target.group}|${topic}|${p.partition}`;
          const samples = this.history.get(key) ?? [];
          // a group that never committed is as far behind as the log start
          samples.push({ at: now, committed: c >= 0 ? c : Number(p.low), logEnd: Number(p.high) });
          if (samples.length > this.options.historySize) samples.shift();
          this.history.set(key, samples);
          const verdict = evaluatePartition(samples, members, now, this.options.rules);
          partitions.push({ topic, partition: p.partition, verdict });
          rows.push({
            ts: toClickHouseDateTime(now),
            sampled_ms: now,
            consumer_group: target.group,
            topic,
            partition: p.partition,
            committed: c,
            log_end: Number(p.high),
            lag_messages: verdict.lagMessages,
            lag_seconds: Math.round(verdict.lagSeconds.seconds * 1000) / 1000,
            lag_seconds_at_least: verdict.lagSeconds.atLeast ? 1 : 0,
            status: verdict.status,
          });
        }
      }
      const lag: GroupLag = {
        group: target.group,
        status: worstStatus(partitions.map((p) => p.verdict.status)),
        lagMessages: partitions.reduce((n, p) => n + p.verdict.lagMessages, 0),
        partitions,
      };
      results.push(lag);
      const transition = this.alerter.observe(target.group, lag.status, now);
      if (transition) await this.options.onTransition(transition, lag);
    }
    if (this.options.clickhouse && rows.length) {
      // lag rows are best effort: a ClickHouse outage must not stop alerting
      await this.options.clickhouse
        .insert({ table: `${METRICS_DATABASE}.consumer_lag`, values: rows, format: 'JSONEachRow' })
        .catch((err: Error) => this.options.logger.warn({ err: err.message }, 'lag rows not written'));
    }
    return results;
  }
}
