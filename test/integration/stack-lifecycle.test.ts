import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot, stackEnvFor } from '../helpers/stack-env.js';

// A second, private stack on its own ports (below the kernel's ephemeral range 32768+, where a
// client socket can hold a port just when a server wants it): `up` twice and `down` are tested without touching
// the stack the other integration tests share.
const runDir = join(projectRoot, '.run/lifecycle-test');
const env = stackEnvFor(runDir, Number(process.env.LIFECYCLE_STACK_BASE_PORT ?? 28000));
const services = ['kafka', 'registry', 'redis', 'clickhouse'] as const;
const ports = [
  env.KAFKA_PORT,
  env.KAFKA_CONTROLLER_PORT,
  env.KAFKA_SASL_PORT,
  env.KAFKA_TLS_PORT,
  env.REGISTRY_PORT,
  env.REGISTRY_TLS_PORT,
  env.REDIS_PORT,
  env.CLICKHOUSE_HTTP_PORT,
  env.CLICKHOUSE_TCP_PORT,
  env.CLICKHOUSE_HTTPS_PORT,
].map(Number);

function stack(command: string) {
  return spawnSync('bash', [join(projectRoot, 'deploy/stack.sh'), command], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
}

/** pids listening on a TCP port, from the kernel's socket table */
function listeners(port: number): number[] {
  const out = execFileSync('ss', ['-Hltnp', `sport = :${port}`], { encoding: 'utf8' });
  return [...new Set([...out.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])))];
}

function pidOf(service: string): number {
  return Number(readFileSync(join(runDir, service, 'pid'), 'utf8'));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('deploy/stack.sh', () => {
  it('up twice leaves exactly one of each service, down leaves no process and no port', () => {
    const first = stack('up');
    expect(first.status, first.stderr).toBe(0);
    const pids = Object.fromEntries(services.map((s) => [s, pidOf(s)]));
    expect(stack('status').status).toBe(0);

    const second = stack('up');
    expect(second.status, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/kafka already running/);
    for (const s of services) expect(pidOf(s)).toBe(pids[s]);
    // each port is held by one process, and it is the one the pid file names
    expect(listeners(Number(env.KAFKA_PORT))).toEqual([pids.kafka]);
    expect(listeners(Number(env.KAFKA_CONTROLLER_PORT))).toEqual([pids.kafka]);
    expect(listeners(Number(env.KAFKA_SASL_PORT))).toEqual([pids.kafka]);
    expect(listeners(Number(env.KAFKA_TLS_PORT))).toEqual([pids.kafka]);
    expect(listeners(Number(env.REGISTRY_PORT))).toEqual([pids.registry]);
    expect(listeners(Number(env.REGISTRY_TLS_PORT))).toEqual([pids.registry]);
    expect(listeners(Number(env.REDIS_PORT))).toEqual([pids.redis]);
    expect(listeners(Number(env.CLICKHOUSE_HTTP_PORT))).toEqual([pids.clickhouse]);
    expect(listeners(Number(env.CLICKHOUSE_HTTPS_PORT))).toEqual([pids.clickhouse]);

    const down = stack('down');
    expect(down.status, down.stderr).toBe(0);
    for (const s of services) expect(alive(pids[s] as number), `${s} still running`).toBe(false);
    for (const p of ports) expect(listeners(p), `port ${p} still bound`).toEqual([]);
    expect(stack('status').status).not.toBe(0);
  }, 300_000);

  afterAll(() => {
    stack('down');
    rmSync(runDir, { recursive: true, force: true });
  });
});
