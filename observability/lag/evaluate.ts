/**
 * Consumer-lag evaluation, pure: no Kafka, no clock of its own. The lag monitor feeds it samples
 * (committed offset and log-end offset per partition, taken every few seconds) and reads back a
 * status per partition and per group, in the manner of Burrow, plus lag in seconds.
 *
 * Lessons from the anchors' trackers, each covered by a unit test:
 * - an idle partition with lag 0 stays OK however long nobody commits (Burrow #38, #128, #140);
 * - lag follows the log-end offset even when the group does not commit (Burrow #127);
 * - lag in seconds is never NaN on low-volume topics (Kafka Lag Exporter #111), never huge on a
 *   topic without traffic (#37), and never extrapolated into absurd values while a consumer
 *   reprocesses old data (#496): beyond the sampled history it is reported as a lower bound.
 */

export type LagStatus = 'OK' | 'WARN' | 'REWIND' | 'STALL' | 'STOP' | 'ERR';

/** Worse statuses sort later; a group takes its worst partition's status. */
export const STATUS_RANK: Record<LagStatus, number> = {
  OK: 0,
  WARN: 1,
  REWIND: 2,
  ERR: 3,
  STALL: 4,
  STOP: 5,
};

export interface PartitionSample {
  at: number;
  /** Next offset the group will read (Kafka's committed offset); null before its first commit. */
  committed: number | null;
  /** Log-end offset (high watermark). */
  logEnd: number;
}

export interface LagRules {
  /** Samples evaluated per partition (Burrow's window). */
  windowSize: number;
  /** Offsets unmoved for at least this long while lag > 0: STALL (members alive) or STOP (none). */
  stallAfterMs: number;
  /** Lag in seconds above this: ERR. */
  maxLagSeconds: number;
  /**
   * Growing lag is a WARN only once the lag in seconds is above this: a healthy consumer is
   * always a few messages (a fetch, a commit interval) behind a busy topic, and that is not news.
   */
  warnFloorSeconds: number;
  /** Consecutive samples without a live member, with lag, before STOP: a restart in between stays quiet. */
  stopAfterSamples: number;
}

export const defaultLagRules: LagRules = {
  windowSize: 10,
  stallAfterMs: 30_000,
  maxLagSeconds: 60,
  warnFloorSeconds: 5,
  stopAfterSamples: 2,
};

/** What the broker says of the group's members, over the samples so far. */
export interface GroupMembers {
  active: boolean;
  /** Consecutive samples (this one included) that found no member; 0 while members are live. */
  absentSamples: number;
  /** When the first of those samples was taken. */
  absentSince: number | null;
}

export const liveMembers: GroupMembers = { active: true, absentSamples: 0, absentSince: null };

export interface LagSeconds {
  seconds: number;
  /** True when the unread message is older than the sampled history: the true lag is larger. */
  atLeast: boolean;
}

export interface PartitionVerdict {
  status: LagStatus;
  lagMessages: number;
  lagSeconds: LagSeconds;
  reason: string;
}

/**
 * How long ago the first unread message (at `committed`) was appended, from the history of
 * (time, log-end offset) points: interpolated between the two points that bracket it, and a
 * lower bound (never an extrapolation) when it is older than the history.
 */
export function estimateLagSeconds(
  history: readonly PartitionSample[],
  committed: number,
  now: number,
): LagSeconds {
  const last = history[history.length - 1];
  if (!last || committed >= last.logEnd) return { seconds: 0, atLeast: false };
  // first sample at which the message at `committed` already existed
  const i = history.findIndex((p) => p.logEnd > committed);
  const p = history[i] as PartitionSample;
  const q = i > 0 ? (history[i - 1] as PartitionSample) : null;
  if (!q) return { seconds: Math.max(0, (now - p.at) / 1000), atLeast: true };
  // q.logEnd <= committed < p.logEnd, so the denominator is positive
  const fraction = (committed - q.logEnd + 1) / (p.logEnd - q.logEnd);
  const appendedAt = q.at + fraction * (p.at - q.at);
  return { seconds: Math.max(0, (now - appendedAt) / 1000), atLeast: false };
}

/**
 * Status of one partition over its window of samples (oldest first). `membersActive` tells a
 * stalled consumer (alive, not moving) from a stopped one (no member in the group).
 */
export function evaluatePartition(
  samples: readonly PartitionSample[],
  members: GroupMembers,
  now: number,
  rules: LagRules = defaultLagRules,
): PartitionVerdict {
  const window = samples.slice(-rules.windowSize);
  const last = window[window.length - 1];
  if (!last)
    return { status: 'OK', lagMessages: 0, lagSeconds: { seconds: 0, atLeast: false }, reason: 'no samples' };
  const committed = last.committed ?? 0;
  const lagMessages = Math.max(0, last.logEnd - committed);
  const lagSeconds = estimateLagSeconds(samples, committed, now);
  const verdict = (status: LagStatus, reason: string): PartitionVerdict => ({
    status,
    lagMessages,
    lagSeconds,
    reason,
  });

  if (lagMessages === 0) return verdict('OK', 'caught up');

  const commits = window.map((s) => s.committed);
  for (let k = 1; k < commits.length; k++) {
    const before = commits[k - 1];
    const after = commits[k];
    if (before !== null && before !== undefined && after !== null && after !== undefined && after < before) {
      return verdict('REWIND', `committed offset went back from ${before} to ${after}`);
    }
  }

  // the broker knows when a group has no member: no need to wait for offsets to sit still
  if (!members.active && members.absentSamples >= rules.stopAfterSamples) {
    const since = members.absentSince ?? last.at;
    return verdict(
      'STOP',
      `no live consumer since ${new Date(since).toISOString()} and ${lagMessages} messages behind`,
    );
  }

  // since when offsets sat still while there was something to read, over all we sampled (not
  // just the window, whose span depends on the sampling interval): a partition that was caught
  // up and then got a message has not been stuck for as long as it was quiet
  let lastMove = (samples[0] as PartitionSample).at;
  for (let k = 1; k < samples.length; k++) {
    const before = samples[k - 1] as PartitionSample;
    const caughtUp = before.logEnd - (before.committed ?? 0) <= 0;
    if (samples[k]?.committed !== before.committed || caughtUp) lastMove = (samples[k] as PartitionSample).at;
  }
  const unmovedFor = last.at - lastMove;
  if (unmovedFor >= rules.stallAfterMs) {
    return members.active
      ? verdict(
          'STALL',
          `offsets unmoved for ${Math.round(unmovedFor / 1000)} s with ${lagMessages} messages behind`,
        )
      : verdict('STOP', `no live consumer and ${lagMessages} messages behind`);
  }

  if (lagSeconds.seconds > rules.maxLagSeconds) {
    const bound = lagSeconds.atLeast ? 'at least ' : '';
    return verdict(
      'ERR',
      `${bound}${Math.round(lagSeconds.seconds)} s behind (limit ${rules.maxLagSeconds} s)`,
    );
  }

  const lags = window.map((s) => Math.max(0, s.logEnd - (s.committed ?? 0)));
  const growing =
    lags.length >= Math.min(rules.windowSize, 3) &&
    lags.every((l, k) => k === 0 || l >= (lags[k - 1] as number)) &&
    (lags[lags.length - 1] as number) > (lags[0] as number);
  if (growing && lagSeconds.seconds > rules.warnFloorSeconds) {
    return verdict(
      'WARN',
      `lag grew from ${lags[0]} to ${lagMessages} messages over the window, ${Math.round(lagSeconds.seconds)} s behind`,
    );
  }

  return verdict('OK', `${lagMessages} behind and moving`);
}

export function worstStatus(statuses: Iterable<LagStatus>): LagStatus {
  let worst: LagStatus = 'OK';
  for (const s of statuses) if (STATUS_RANK[s] > STATUS_RANK[worst]) worst = s;
  return worst;
}

export interface LagTransition {
  group: string;
  from: LagStatus;
  to: LagStatus;
  kind: 'ALERT' | 'RECOVERED';
  /** When the group entered the state that is announced (for RECOVERED: when it became OK). */
  since: number;
}

export interface AlerterOptions {
  /** Samples in a row that must be OK before a recovery is announced (one OK sample may be luck). */
  recoverAfterSamples: number;
  /**
   * After a recovery, the same alert for the same group is not announced again within this
   * long (a flapping group pages once); a worse state always is.
   */
  repeatAfterMs: number;
}

/**
 * What receivers are told, per group: an alert on leaving OK (and again if it gets worse), a
 * recovery once the group has stayed OK, nothing for repeated evaluations in the same state,
 * and flapping damped by `repeatAfterMs`.
 */
export class LagAlerter {
  private readonly groups = new Map<
    string,
    { announced: LagStatus; badSince: number | null; okSamples: number; lastAlert: Map<LagStatus, number> }
  >();

  constructor(private readonly options: AlerterOptions = { recoverAfterSamples: 1, repeatAfterMs: 0 }) {}

  observe(group: string, status: LagStatus, now = Date.now()): LagTransition | null {
    let g = this.groups.get(group);
    if (!g)
      this.groups.set(group, (g = { announced: 'OK', badSince: null, okSamples: 0, lastAlert: new Map() }));
    if (status === 'OK') {
      g.okSamples += 1;
      g.badSince = null;
      if (g.announced === 'OK' || g.okSamples < this.options.recoverAfterSamples) return null;
      const from = g.announced;
      g.announced = 'OK';
      return { group, from, to: 'OK', kind: 'RECOVERED', since: now };
    }
    g.okSamples = 0;
    g.badSince ??= now;
    if (STATUS_RANK[status] <= STATUS_RANK[g.announced]) return null; // better but not OK yet, or the same
    const last = g.lastAlert.get(status);
    if (g.announced === 'OK' && last !== undefined && now - last < this.options.repeatAfterMs) return null;
    const from = g.announced;
    g.announced = status;
    g.lastAlert.set(status, now);
    return { group, from, to: status, kind: 'ALERT', since: g.badSince };
  }
}
