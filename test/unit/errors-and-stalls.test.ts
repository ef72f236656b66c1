import { describe, expect, it } from 'vitest';
import { classifyError, DurabilityError } from '../../runtime/errors.js';
import { StallWatch } from '../../runtime/stall-watch.js';

const replyError = (message: string) => Object.assign(new Error(message), { name: 'ReplyError' });

describe('classifyError: what is retried and what is isolated', () => {
  it('retries what goes away by itself', () => {
    for (const err of [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' }),
      new Error('Connection is closed.'),
      replyError('LOADING Redis is loading the dataset in memory'),
      replyError('READONLY You cannot write against a read only replica.'),
      replyError('CLUSTERDOWN The cluster is down'),
      replyError('TRYAGAIN Multiple keys request during rehashing of slot'),
      replyError('OOM command not allowed when used memory > maxmemory'),
      new DurabilityError('only 0 of 1 replica(s) acknowledged'),
      Object.assign(new Error('The group is rebalancing'), { name: 'KafkaJSProtocolError', retriable: true }),
      Object.assign(new Error('Connection timeout'), { name: 'KafkaJSConnectionError' }),
      Object.assign(new Error('registry down'), { name: 'RegistryUnavailableError' }),
      Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNRESET' } }),
    ]) {
      expect(classifyError(err), err.message).toBe('transient');
    }
  });

  it('isolates what fails the same way every time', () => {
    for (const err of [
      replyError('ERR user_script:120: corrupt SKU record {inv}:sb:17 A: "x"'),
      replyError('WRONGTYPE Operation against a key holding the wrong kind of value'),
      new TypeError("Cannot read properties of undefined (reading 'sku')"),
      new RangeError('Invalid array length'),
    ]) {
      expect(classifyError(err), err.message).toBe('deterministic');
    }
  });

  it('leaves the rest to a bounded number of attempts', () => {
    expect(classifyError(new Error('something new'))).toBe('unknown');
    expect(
      classifyError(
        Object.assign(new Error('Message too large'), { name: 'KafkaJSProtocolError', retriable: false }),
      ),
    ).toBe('unknown');
    expect(classifyError('a string')).toBe('unknown');
  });
});

describe('StallWatch', () => {
  it('reports a partition busy without progress once, and its recovery once', () => {
    let now = 0;
    const events: string[] = [];
    const watch = new StallWatch(
      1_000,
      (tp, ms) => events.push(`stall ${tp} ${ms}`),
      (tp, ms) => events.push(`recover ${tp} ${ms}`),
      () => now,
    );
    watch.busy('t:0');
    now = 999;
    watch.check();
    expect(events).toEqual([]);
    now = 1_000;
    watch.busy('t:0'); // still the same work: the clock does not restart
    watch.check();
    watch.check();
    expect(events).toEqual(['stall t:0 1000']);
    expect(watch.stalled).toEqual(['t:0']);
    now = 4_000;
    watch.progressed('t:0');
    expect(events).toEqual(['stall t:0 1000', 'recover t:0 4000']);
    expect(watch.stalled).toEqual([]);
  });

  it('does not count a quiet partition as stalled: only one with work waiting', () => {
    let now = 0;
    const stalls: string[] = [];
    const watch = new StallWatch(
      1_000,
      (tp) => stalls.push(tp),
      () => undefined,
      () => now,
    );
    watch.busy('t:1');
    now = 10;
    watch.progressed('t:1');
    now = 60_000;
    watch.check();
    expect(stalls).toEqual([]);
  });
});
