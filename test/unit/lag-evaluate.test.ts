import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  estimateLagSeconds,
  evaluatePartition,
  LagAlerter,
  worstStatus,
  type PartitionSample,
} from '../../observability/lag/evaluate.js';

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
    expect(evaluatePartition(samples, false, 100_000).status).toBe('OK');
  });

  it('lag follows the log-end offset even when the group does not commit (Burrow #127)', () => {
    const samples = every5s(4, (i) => [10, 10 + i * 5]);
    expect(evaluatePartition(samples, true, 15_000).lagMessages).toBe(15); // log end 25, committed 10
  });

  it('STALL when a live consumer stops moving with lag, STOP when no consumer is left', () => {
    const samples = every5s(10, () => [100, 150]);
    expect(evaluatePartition(samples, true, 45_000).status).toBe('STALL');
    expect(evaluatePartition(samples, false, 45_000).status).toBe('STOP');
  });

  it('WARN while the lag keeps growing though offsets move', () => {
    const samples = every5s(5, (i) => [100 + i, 110 + i * 20]);
    expect(evaluatePartition(samples, true, 20_000).status).toBe('WARN');
  });

  it('REWIND when the committed offset goes back', () => {
    const samples = [s(0, 100, 200), s(5000, 50, 200)];
    expect(evaluatePartition(samples, true, 5000).status).toBe('REWIND');
  });

  it('ERR above the threshold in seconds, with the lower bound said', () => {
    const samples = [s(0, 0, 0), s(5000, 0, 10), s(10_000, 5, 20), s(15_000, 10, 30)];
    const v = evaluatePartition(samples, true, 200_000, {
      windowSize: 10,
      stallAfterMs: 1e9,
      maxLagSeconds: 60,
    });
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
    expect(alerter.observe('g', 'OK')).toMatchObject({ kind: 'RECOVERED', from: 'STALL' });
    expect(alerter.observe('g', 'OK')).toBeNull();
  });
});
