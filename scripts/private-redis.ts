import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/**
 * A redis-server of its own for a benchmark or a test that must measure, kill or replicate a
 * Redis nobody else uses: AOF with an fsync per write (the durable setting) in a fresh
 * directory, or a replica of another server. `restart` starts it again on the same data.
 */
export class PrivateRedis {
  private child: ChildProcess | null = null;
  readonly dir = mkdtempSync(join(tmpdir(), 'private-redis-'));

  constructor(
    readonly port: number,
    private readonly extra: readonly string[] = [],
  ) {}

  static async start(port: number, extra: readonly string[] = []): Promise<PrivateRedis> {
    const r = new PrivateRedis(port, extra);
    await r.restart();
    return r;
  }

  async restart(): Promise<void> {
    if (this.child && this.child.exitCode === null)
      throw new Error(`redis-server on ${this.port} still runs`);
    this.child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--save',
        '',
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
