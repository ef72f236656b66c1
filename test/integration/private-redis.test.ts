import { describe, expect, it } from 'vitest';
import { PrivateRedis } from '../../scripts/private-redis.js';
import { freePort } from '../helpers/processes.js';

describe('a private redis-server', () => {
  it('refuses a port another Redis holds instead of quietly using that server', async () => {
    const port = await freePort();
    const first = await PrivateRedis.start(port);
    try {
      await expect(PrivateRedis.start(port)).rejects.toThrow(/taken by another Redis/);
      // restarting a running one would orphan its process
      await expect(first.restart()).rejects.toThrow(/still runs/);
    } finally {
      await first.remove();
    }
    const again = await PrivateRedis.start(port);
    await again.remove();
  }, 30_000);
});
