import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { testStack } from './pipeline.js';

export function testRedis(): Redis {
  return new Redis(testStack().redisUrl, { maxRetriesPerRequest: 3, lazyConnect: false });
}

/** A key tag of its own per test, so tests share one Redis without seeing each other's state. */
export function uniqueTag(name: string): string {
  return `t${randomBytes(3).toString('hex')}-${name}`;
}

export async function deleteTag(redis: Redis, tag: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `{${tag}[.}]*`, 'COUNT', 1000);
    if (keys.length) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}
