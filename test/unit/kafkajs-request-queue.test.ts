import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';

// kafkajs' request queue, as patched by patches/kafkajs+2.2.4.patch (applied by `npm ci`)
const require = createRequire(import.meta.url);
const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as new (o: object) => Queue;

interface Queue {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  maybeThrottle(ms: number): void;
  destroy(): void;
}

const silent = {
  debug: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  error: () => undefined,
};
const queues: Queue[] = [];
function queue(): Queue {
  const q = new RequestQueue({
    maxInFlightRequests: null,
    requestTimeout: 30_000,
    enforceRequestTimeout: false,
    clientId: 'test',
    broker: 'b:1',
    logger: silent,
    isConnected: () => true,
  });
  queues.push(q);
  return q;
}
afterEach(() => {
  for (const q of queues.splice(0)) q.destroy();
});

describe('kafkajs request queue (patched)', () => {
  it('arms no timer when nothing waits and nothing throttles (was a 1 ms loop per connection)', async () => {
    const q = queue();
    q.checkPendingRequests(); // what every response does
    expect(q.throttleCheckTimeoutId).toBeNull();
    await new Promise((r) => setTimeout(r, 20));
    expect(q.throttleCheckTimeoutId).toBeNull();
  });

  it('still checks again when a request waits, or when a throttle ends', () => {
    const throttled = queue();
    throttled.maybeThrottle(50);
    throttled.checkPendingRequests();
    expect(throttled.throttleCheckTimeoutId).not.toBeNull(); // checks when the throttle ends

    const pending = queue();
    pending.throttledUntil = Date.now() + 1_000;
    pending.pending.push({});
    pending.checkPendingRequests();
    expect(pending.throttleCheckTimeoutId).not.toBeNull();
  });
});
