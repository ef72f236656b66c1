import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { CommonConfig } from './config.js';
import type { RedisClient } from './lua-scripts.js';

/**
 * A single Redis or a Redis Cluster, from the configuration. Every script call's keys share one
 * hash tag, so on a cluster each call goes whole to the node owning that slot.
 */
export function createRedis(
  config: Pick<CommonConfig, 'REDIS_URL' | 'REDIS_CLUSTER_NODES'>,
  options: RedisOptions = {},
): RedisClient {
  if (config.REDIS_CLUSTER_NODES.length === 0) return new Redis(config.REDIS_URL, options);
  const url = new URL(config.REDIS_URL);
  const nodes = config.REDIS_CLUSTER_NODES.map((n) => {
    const [host = '127.0.0.1', port = '6379'] = n.split(':');
    return { host, port: Number(port) };
  });
  return new Cluster(nodes, {
    redisOptions: {
      ...options,
      ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
      ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
      ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
    },
    // stock state is read where it is written: replicas could lag behind a script call
    scaleReads: 'master',
  });
}
