import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import { committedLag } from '../../runtime/group-lag.js';
import { projectRoot } from './stack-env.js';
import { testStack } from './pipeline.js';

export interface Spawned {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const live = new Set<ChildProcess>();

/** Starts a real processor process (node + tsx) against the test stack. */
export function spawnProcessor(entry: string, env: Record<string, string>): Spawned {
  const stack = testStack();
  const child = spawn(process.execPath, ['--import', 'tsx', join(projectRoot, entry)], {
    cwd: projectRoot,
    env: {
      ...process.env,
      KAFKA_BROKERS: stack.brokers.join(','),
      SCHEMA_REGISTRY_URL: stack.registryUrl,
      REDIS_URL: stack.redisUrl,
      CLICKHOUSE_URL: stack.clickhouseUrl,
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    }),
  );
  return { child, output: () => out, exited };
}

/** Tests leave no process behind, whatever happened to them. */
export async function killAll(): Promise<void> {
  const waits = [...live].map((c) => new Promise((r) => c.once('exit', r)));
  for (const c of live) c.kill('SIGKILL');
  await Promise.all(waits);
}

/**
 * Polls until `check` is true. A check that throws counts as "not yet": right after a broker
 * starts, group-coordinator requests fail until __consumer_offsets is loaded.
 */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const why = lastError ? `: ${(lastError as Error).message}` : '';
      throw new Error(`timed out waiting for ${what}${why}`, { cause: lastError });
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Messages on `topics` not yet committed by `groupId` (coordinator hiccups are retried). */
export async function groupLag(kafka: Kafka, groupId: string, topics: string[]): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await committedLag(kafka, groupId, topics);
    } catch (err) {
      if (attempt >= 25) throw err;
      await new Promise((r) => setTimeout(r, 400));
    }
  }
}

/** A port nothing listens on right now, for a server a test starts. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}
