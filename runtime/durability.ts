import { Cluster, type Redis } from 'ioredis';
import { DurabilityError } from './errors.js';
import type { Logger } from './logger.js';
import { callScript, type RedisClient } from './lua-scripts.js';

/**
 * When a state change counts as safe enough to publish its outputs and commit its offsets.
 *
 * - `fsync`: one Redis node with `appendfsync always`. Redis writes and fsyncs the AOF before it
 *   answers, so an answered script call survives a crash of the node (one fsync per call: a
 *   call applies a whole chunk, which is what makes it cheap).
 * - `replicas`: replicated Redis (a replica per master, or Redis Cluster). After each script call,
 *   `WAIT <replicas> <timeout>` on the same connection: the call's writes (and everything before
 *   them in the master's stream) have reached that many replicas, so a failover keeps them.
 *   Fewer acknowledgements in time is a transient failure: the chunk is retried, its events are
 *   then found applied (the watermark) and its stored outputs replayed, and it waits again.
 * - `none`: publish as soon as Redis answered (tests of other things, benchmarks of the cost).
 */
export type DurabilityPolicy =
  { kind: 'none' } | { kind: 'fsync' } | { kind: 'replicas'; replicas: number; timeoutMs: number };

export function durabilityFromConfig(c: {
  REDIS_DURABILITY: string;
  REDIS_WAIT_REPLICAS: number;
  REDIS_WAIT_TIMEOUT_MS: number;
}): DurabilityPolicy {
  switch (c.REDIS_DURABILITY) {
    case 'none':
      return { kind: 'none' };
    case 'replicas':
      return { kind: 'replicas', replicas: c.REDIS_WAIT_REPLICAS, timeoutMs: c.REDIS_WAIT_TIMEOUT_MS };
    default:
      return { kind: 'fsync' };
  }
}

export function describeDurability(p: DurabilityPolicy): string {
  if (p.kind === 'replicas') return `WAIT ${p.replicas} replica(s), ${p.timeoutMs} ms`;
  return p.kind === 'fsync' ? 'appendfsync always' : 'none';
}

/**
 * Calls a defined script and returns once its writes are durable under the policy. Under
 * `replicas` the WAIT goes in the same pipeline, so it runs on the connection (in Redis
 * Cluster: the node) that ran the script.
 */
export async function callScriptDurably(
  client: RedisClient,
  policy: DurabilityPolicy,
  name: string,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  if (policy.kind !== 'replicas') return callScript(client, name, keys, args);
  const pipeline = client.pipeline() as unknown as Record<string, (...a: unknown[]) => unknown> & {
    wait(replicas: number, timeout: number): unknown;
    exec(): Promise<[Error | null, unknown][] | null>;
  };
  const fn = pipeline[name];
  if (typeof fn !== 'function') throw new Error(`script ${name} is not defined on this client`);
  fn.call(pipeline, keys.length, ...keys, ...args);
  pipeline.wait(policy.replicas, policy.timeoutMs);
  const replies = (await pipeline.exec()) ?? [];
  const [scriptErr, result] = replies[0] ?? [new Error('no reply from Redis'), null];
  if (scriptErr) throw scriptErr;
  const [waitErr, acknowledged] = replies[1] ?? [new Error('no WAIT reply'), 0];
  if (waitErr) throw waitErr;
  if (Number(acknowledged) < policy.replicas) {
    throw new DurabilityError(
      `only ${acknowledged} of ${policy.replicas} replica(s) acknowledged within ${policy.timeoutMs} ms`,
    );
  }
  return result;
}

function nodesOf(client: RedisClient): Redis[] {
  return client instanceof Cluster ? client.nodes('master') : [client];
}

function field(info: string, name: string): string | undefined {
  const line = info.split('\r\n').find((l) => l.startsWith(`${name}:`));
  return line?.slice(name.length + 1);
}

/**
 * At start: is Redis set up for the policy? A node that answers that it is not (AOF off, or
 * fsync every second) stops the process with what to change; a server that does not let us
 * look (a managed Redis without CONFIG GET) is reported once and trusted.
 */
export async function checkDurability(
  client: RedisClient,
  policy: DurabilityPolicy,
  logger: Logger,
): Promise<string[]> {
  const problems: string[] = [];
  for (const node of nodesOf(client)) {
    const where = `${node.options.host}:${node.options.port}`;
    if (policy.kind === 'fsync') {
      try {
        const persistence = await node.info('persistence');
        const [, fsync] = (await node.config('GET', 'appendfsync')) as [string, string];
        if (field(persistence, 'aof_enabled') !== '1' || fsync !== 'always') {
          problems.push(
            `REDIS_DURABILITY=fsync needs "appendonly yes" and "appendfsync always" on ${where} ` +
              `(it has appendonly ${field(persistence, 'aof_enabled') === '1' ? 'yes' : 'no'}, appendfsync ${fsync}); ` +
              'change the server, or choose REDIS_DURABILITY=replicas (replicated Redis) or none',
          );
        }
      } catch (err) {
        logger.warn(
          { node: where, err: (err as Error).message },
          'cannot read the Redis persistence settings; trusting that appendfsync is always',
        );
      }
    } else if (policy.kind === 'replicas') {
      const replication = await node.info('replication').catch(() => '');
      const connected = Number(field(replication, 'connected_slaves') ?? 0);
      if (connected < policy.replicas) {
        logger.warn(
          { node: where, connected, required: policy.replicas },
          'fewer replicas connected than REDIS_WAIT_REPLICAS: state changes wait (and retry) until they are',
        );
      }
    }
  }
  return problems;
}
