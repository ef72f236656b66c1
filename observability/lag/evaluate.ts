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
}

export const defaultLagRules: LagRules = { windowSize: 10, stallAfterMs: 30_000, maxLagSeconds: 60 };

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
  membersActive: boolean,
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

  // the last time the committed offset moved, over all we sampled (not just the window, whose
  // time span depends on how often samples are taken)
  let lastMove = (samples[0] as PartitionSample).at;
  for (let k = 1; k < samples.length; k++) {
    if (samples[k]?.committed !== samples[k - 1]?.committed) lastMove = (samples[k] as PartitionSample).at;
  }
  const unmovedFor = last.at - lastMove;
  if (unmovedFor >= rules.stallAfterMs) {
    return membersActive
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
  if (growing) return verdict('WARN', `lag grew from ${lags[0]} to ${lagMessages} over the window`);

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
}

/**
 * Fires once on leaving OK (and again if it gets worse), and once when the group is OK again;
 * repeated evaluations in the same state stay silent.
 */
export class LagAlerter {
  private readonly current = new Map<string, LagStatus>();

  observe(group: string, status: LagStatus): LagTransition | null {
    const before = this.current.get(group) ?? 'OK';
    this.current.set(group, status);
    if (status === before) return null;
    if (status === 'OK') return { group, from: before, to: status, kind: 'RECOVERED' };
    if (STATUS_RANK[status] > STATUS_RANK[before]) return { group, from: before, to: status, kind: 'ALERT' };
    return null; // better but not OK yet: no new alert
  }
}
