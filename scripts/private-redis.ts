import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';

/** The lines of the shipped configuration that decide durability and the cost of persisting. */
const PERSISTENCE_SETTINGS = new Set([
  'appendonly',
  'appendfsync',
  'auto-aof-rewrite-percentage',
  'auto-aof-rewrite-min-size',
  'save',
  'maxmemory-policy',
]);

/**
 * The shipped Redis configuration's persistence settings as command-line arguments, read from
 * deploy/redis/redis.conf.in: a private server measures what the product's own would cost (an
 * AOF rewritten from 64 MB instead of the shipped 512 MB forked the server every ~150,000
 * events and made a benchmark's figures depend on where the forks fell).
 */
export function shippedPersistenceArgs(): string[] {
  const conf = readFileSync(fileURLToPath(new URL('../deploy/redis/redis.conf.in', import.meta.url)), 'utf8');
  const args: string[] = [];
  for (const line of conf.split('\n')) {
    const m = /^([a-z-]+)\s+(.+)$/.exec(line.trim());
    if (m && PERSISTENCE_SETTINGS.has(m[1] as string))
      args.push(`--${m[1]}`, m[2] === '""' ? '' : (m[2] as string));
  }
  if (!args.includes('--appendfsync')) throw new Error('deploy/redis/redis.conf.in sets no appendfsync');
  return args;
}

/**
 * A redis-server of its own for a benchmark or a test that must measure, kill or replicate a
 * Redis nobody else uses: persisting as the shipped configuration does (AOF with an fsync per
 * write) in a fresh directory, or a replica of another server. `restart` starts it again on the same data.
 */
export class PrivateRedis {
  private child: ChildProcess | null = null;
  readonly dir = mkdtempSync(join(tmpdir(), 'private-redis-'));

  /**
   * `wrapper`: a command the server runs under (its argv before `redis-server`), e.g. valgrind to
   * count the instructions a workload costs whatever the host's speed.
   */
  constructor(
    readonly port: number,
    private readonly extra: readonly string[] = [],
    private readonly wrapper: readonly string[] = [],
  ) {}

  static async start(
    port: number,
    extra: readonly string[] = [],
    wrapper: readonly string[] = [],
  ): Promise<PrivateRedis> {
    const r = new PrivateRedis(port, extra, wrapper);
    await r.restart();
    return r;
  }

  /** The server's process id while it runs (under a wrapper, the wrapped server's). */
  get pid(): number | undefined {
    return this.child && this.child.exitCode === null ? this.child.pid : undefined;
  }

  async restart(): Promise<void> {
    if (this.child && this.child.exitCode === null)
      throw new Error(`redis-server on ${this.port} still runs`);
    const [command, ...prefix] = [...this.wrapper, 'redis-server'];
    this.child = spawn(
      command as string,
      [
        ...prefix,
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        ...shippedPersistenceArgs(),
        '--dir',
        this.dir,
        ...this.extra,
      ],
      { stdio: 'ignore' },
    );
    const ours = this.child.pid;
    const client = new Redis({ port: this.port, lazyConnect: true, maxRetriesPerRequest: 1 });
    client.on('error', () => undefined);
    try {
      for (let i = 0; ; i++) {
        let info: string | undefined;
        try {
          info = await client.info();
        } catch {
          if (i > 100) throw new Error(`redis-server on ${this.port} did not start`);
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        // a server already on the port answers too: measuring or killing it would be wrong
        const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
        if (pid !== ours) {
          await this.stop('SIGKILL');
          throw new Error(
            `port ${this.port} is taken by another Redis (pid ${pid}); stop it or pick another port`,
          );
        }
        if (/loading:1/.test(info)) {
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        return;
      }
    } finally {
      client.disconnect();
    }
  }

  /** SIGKILL (a crash) or SIGTERM, and wait until the process is gone. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await gone;
  }

  async remove(): Promise<void> {
    await this.stop('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
