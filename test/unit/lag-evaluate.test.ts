import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  defaultLagRules,
  estimateLagSeconds,
  evaluatePartition,
  LagAlerter,
  liveMembers,
  worstStatus,
  type GroupMembers,
  type PartitionSample,
} from '../../observability/lag/evaluate.js';
import { alertmanagerPayload, lagAlert } from '../../observability/lag/alerts.js';

const gone = (absentSamples: number): GroupMembers => ({ active: false, absentSamples, absentSince: 0 });

const s = (at: number, committed: number | null, logEnd: number): PartitionSample => ({
  at,
  committed,
  logEnd,
});
const every5s = (n: number, f: (i: number) => [number | null, number]) =>
  Array.from({ length: n }, (_, i) => s(i * 5000, ...f(i)));

describe('lag in seconds', () => {
  it('interpolates between the samples that bracket the unread message', () => {
    const history = [s(0, 0, 0), s(10_000, 0, 100)];
    const lag = estimateLagSeconds(history, 50, 20_000);
    expect(lag.atLeast).toBe(false);
    expect(lag.seconds).toBeCloseTo(14.9, 1);
  });

  it('is 0, not huge, on a topic without traffic whose consumer is caught up (KLE #37)', () => {
    const history = every5s(100, () => [500, 500]);
    expect(estimateLagSeconds(history, 500, 1_000_000)).toEqual({ seconds: 0, atLeast: false });
  });

  it('is a finite lower bound, never NaN, on a low-volume topic (KLE #111)', () => {
    const history = every5s(10, () => [7, 8]); // one message, never read, no new traffic
    const lag = estimateLagSeconds(history, 7, 50_000);
    expect(Number.isFinite(lag.seconds)).toBe(true);
    expect(lag).toEqual({ seconds: 50, atLeast: true });
  });

  it('is bounded by the sampled history while a consumer reprocesses old data (KLE #496)', () => {
    const history = every5s(12, (i) => [1_000_000, 1_000_000 + i * 10]);
    const lag = estimateLagSeconds(history, 0, 60_000); // reset to the beginning of a long topic
    expect(lag.atLeast).toBe(true);
    expect(lag.seconds).toBe(60);
  });

  it('is never negative, NaN or beyond the history span (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ dt: fc.integer({ min: 1, max: 10_000 }), produced: fc.nat({ max: 50 }) }), {
          minLength: 1,
          maxLength: 30,
        }),
        fc.nat(),
        fc.integer({ min: 0, max: 100_000 }),
        (steps, committedSeed, extra) => {
          let at = 0;
          let end = 0;
          const history = steps.map(({ dt, produced }) => {
            at += dt;
            end += produced;
            return s(at, null, end);
          });
          const committed = end === 0 ? 0 : committedSeed % (end + 1);
          const now = at + extra;
          const lag = estimateLagSeconds(history, committed, now);
          expect(Number.isFinite(lag.seconds)).toBe(true);
          expect(lag.seconds).toBeGreaterThanOrEqual(0);
          expect(lag.seconds).toBeLessThanOrEqual((now - (history[0] as PartitionSample).at) / 1000 + 1e-9);
        },
      ),
    );
  });
});

describe('partition status (Burrow-style rules)', () => {
  it('an idle partition with lag 0 stays OK however long nobody commits (Burrow #38)', () => {
    const samples = every5s(20, () => [42, 42]);
    expect(evaluatePartition(samples, gone(20), 100_000).status).toBe('OK');
  });

  it('lag follows the log-end offset even when the group does not commit (Burrow #127)', () => {
    const samples = every5s(4, (i) => [10, 10 + i * 5]);
    expect(evaluatePartition(samples, liveMembers, 15_000).lagMessages).toBe(15); // log end 25, committed 10
  });

  it('STALL when a live consumer stops moving with lag, STOP when no consumer is left', () => {
    const samples = every5s(10, () => [100, 150]);
    expect(evaluatePartition(samples, liveMembers, 45_000).status).toBe('STALL');
    expect(
      evaluatePartition(samples, gone(1), 45_000, { ...defaultLagRules, stopAfterSamples: 5 }).status,
    ).toBe('STOP');
  });

  it('WARN while the lag keeps growing though offsets move, once it is more than a few seconds', () => {
    const samples = every5s(5, (i) => [100 + i, 110 + i * 20]);
    expect(evaluatePartition(samples, liveMembers, 20_000).status).toBe('WARN');
    // the same growth, but the unread message is fresh: a busy topic, not a slow consumer
    const busy = every5s(5, (i) => [1000 * i + 4 * i, 1000 * i + 10 * i]);
    const v = evaluatePartition(busy, liveMembers, 20_000);
    expect(v.lagSeconds.seconds).toBeLessThan(5);
    expect(v.status).toBe('OK');
  });

  it('STOP as soon as the broker has shown no member for two samples, not after a stall period', () => {
    const samples = every5s(4, (i) => [100 + i * 10, 120 + i * 10]); // offsets were moving
    expect(evaluatePartition(samples, gone(1), 15_000).status).toBe('OK');
    const v = evaluatePartition(samples, gone(2), 15_000);
    expect(v.status).toBe('STOP');
    expect(v.reason).toMatch(/no live consumer since 1970-01-01T00:00:00.000Z and 20 messages behind/);
    // no member and nothing to read: nothing to page about
    expect(
      evaluatePartition(
        every5s(4, () => [50, 50]),
        gone(4),
        15_000,
      ).status,
    ).toBe('OK');
  });

  it('a quiet partition that just got a message is not STALLed for having been quiet', () => {
    const samples = [...every5s(30, () => [42, 42]), s(150_000, 42, 43)];
    expect(evaluatePartition(samples, liveMembers, 150_000).status).toBe('OK');
    // but the same message still unread a stall period later is
    const later = [
      ...samples,
      ...every5s(8, () => [42, 43]).map((p) => ({ ...p, at: 150_000 + p.at + 5000 })),
    ];
    expect(evaluatePartition(later, liveMembers, 190_000).status).toBe('STALL');
  });

  it('REWIND when the committed offset goes back', () => {
    const samples = [s(0, 100, 200), s(5000, 50, 200)];
    expect(evaluatePartition(samples, liveMembers, 5000).status).toBe('REWIND');
  });

  it('ERR above the threshold in seconds, with the lower bound said', () => {
    const samples = [s(0, 0, 0), s(5000, 0, 10), s(10_000, 5, 20), s(15_000, 10, 30)];
    const v = evaluatePartition(samples, liveMembers, 200_000, { ...defaultLagRules, stallAfterMs: 1e9 });
    expect(v.status).toBe('ERR');
  });

  it('a group takes its worst partition', () => {
    expect(worstStatus(['OK', 'WARN', 'STALL', 'OK'])).toBe('STALL');
    expect(worstStatus([])).toBe('OK');
  });
});

describe('lag alerts', () => {
  it('fire once on entering a bad state, once more if it worsens, once on recovery', () => {
    const alerter = new LagAlerter();
    expect(alerter.observe('g', 'OK')).toBeNull();
    expect(alerter.observe('g', 'WARN')).toMatchObject({ kind: 'ALERT', from: 'OK', to: 'WARN' });
    expect(alerter.observe('g', 'WARN')).toBeNull();
    expect(alerter.observe('g', 'STOP')).toMatchObject({ kind: 'ALERT', from: 'WARN', to: 'STOP' });
    expect(alerter.observe('g', 'STALL')).toBeNull();
    expect(alerter.observe('g', 'OK')).toMatchObject({ kind: 'RECOVERED', from: 'STOP' }); // what was announced
    expect(alerter.observe('g', 'OK')).toBeNull();
  });

  it('announce a recovery only after the group stayed OK, and page once for a flapping group', () => {
    const alerter = new LagAlerter({ recoverAfterSamples: 2, repeatAfterMs: 60_000 });
    expect(alerter.observe('g', 'WARN', 1_000)).toMatchObject({ kind: 'ALERT', to: 'WARN', since: 1_000 });
    expect(alerter.observe('g', 'OK', 6_000)).toBeNull(); // one good sample may be luck
    expect(alerter.observe('g', 'WARN', 11_000)).toBeNull(); // still the WARN announced
    expect(alerter.observe('g', 'OK', 16_000)).toBeNull();
    expect(alerter.observe('g', 'OK', 21_000)).toMatchObject({ kind: 'RECOVERED', from: 'WARN' });
    // the same WARN again within the repeat interval: not announced, and so no recovery either
    expect(alerter.observe('g', 'WARN', 26_000)).toBeNull();
    expect(alerter.observe('g', 'OK', 31_000)).toBeNull();
    expect(alerter.observe('g', 'OK', 36_000)).toBeNull();
    // a worse state always is
    expect(alerter.observe('g', 'STOP', 41_000)).toMatchObject({
      kind: 'ALERT',
      from: 'OK',
      to: 'STOP',
      since: 41_000,
    });
    // and after the interval the same alert is news again
    expect(alerter.observe('g', 'OK', 46_000)).toBeNull();
    expect(alerter.observe('g', 'OK', 51_000)).toMatchObject({ kind: 'RECOVERED', from: 'STOP' });
    expect(alerter.observe('g', 'WARN', 200_000)).toMatchObject({ kind: 'ALERT', to: 'WARN' });
    // other groups are other subjects
    expect(alerter.observe('h', 'WARN', 200_000)).toMatchObject({ kind: 'ALERT', group: 'h' });
  });

  it('say what is wrong, since when, how far behind and where to look; Alertmanager receivers get their payload', () => {
    const t = {
      group: 'inventory',
      from: 'OK' as const,
      to: 'STOP' as const,
      kind: 'ALERT' as const,
      since: 1_000,
    };
    const verdict = evaluatePartition(
      every5s(3, () => [10, 30]),
      gone(2),
      10_000,
    );
    const lag = {
      group: 'inventory',
      status: 'STOP' as const,
      lagMessages: 20,
      partitions: [{ topic: 'stock', partition: 3, verdict }],
    };
    const alert = lagAlert(t, lag, 12_000);
    expect(alert.message).toMatch(
      /inventory is STOP since 1970-01-01T00:00:01.000Z: 20 messages behind; worst stock\/3 20 messages/,
    );
    expect(alert.message).toMatch(/start its processor/);
    expect(alert.attributes).toMatchObject({ since: '1970-01-01T00:00:01.000Z', worstLagMessages: '20' });
    const firing = alertmanagerPayload(alert, t);
    expect(firing).toMatchObject({
      version: '4',
      status: 'firing',
      groupLabels: { alertname: 'ConsumerLag', consumer_group: 'inventory' },
      alerts: [
        {
          status: 'firing',
          labels: { alertname: 'ConsumerLag', severity: 'critical', status: 'STOP' },
          startsAt: '1970-01-01T00:00:01.000Z',
        },
      ],
    });
    const back = {
      ...t,
      from: 'STOP' as const,
      to: 'OK' as const,
      kind: 'RECOVERED' as const,
      since: 30_000,
    };
    const resolved = alertmanagerPayload(
      lagAlert(back, { ...lag, status: 'OK', lagMessages: 0 }, 30_000),
      back,
    );
    expect(resolved).toMatchObject({ status: 'resolved', alerts: [{ status: 'resolved' }] });
    // the same fingerprint: the receiver pairs the resolution with the alert
    const fp = (p: Record<string, unknown>) => (p.alerts as { fingerprint: string }[])[0]?.fingerprint;
    expect(fp(resolved)).toBe(fp(firing));
  });
});
