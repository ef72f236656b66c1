import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { SUPERVISOR_PID_ENV } from '../../runtime/supervisor-watch.js';

const service = fileURLToPath(new URL('./fixtures/supervised-service.ts', import.meta.url));
const started: ChildProcess[] = [];

function run(command: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  return child;
}

const output = (child: ChildProcess) => {
  let text = '';
  child.stdout?.on('data', (d: Buffer) => (text += d.toString()));
  return () => text;
};

const exited = (child: ChildProcess, ms: number) =>
  new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still running after ${ms} ms`)), ms);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });

async function until(check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

afterEach(() => {
  for (const c of started.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

describe('a process started by npm start stops when its launcher is gone (real processes)', () => {
  it('SIGKILL of the launcher: the service stops cleanly within a few seconds', async () => {
    const launcher = run('sleep', ['60']);
    const svc = run(process.execPath, ['--import', 'tsx', service], {
      [SUPERVISOR_PID_ENV]: String(launcher.pid),
    });
    const text = output(svc);
    await until(() => text().includes('running'), 20_000);
    launcher.kill('SIGKILL');
    expect(await exited(svc, 10_000)).toBe(0);
    expect(text()).toContain('stopped cleanly');
  }, 40_000);

  it('without a launcher to watch it runs on; SIGHUP stops it cleanly', async () => {
    const svc = run(process.execPath, ['--import', 'tsx', service]);
    const text = output(svc);
    await until(() => text().includes('running'), 20_000);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(svc.exitCode).toBeNull();
    svc.kill('SIGHUP');
    expect(await exited(svc, 10_000)).toBe(0);
    expect(text()).toContain('stopped cleanly');
  }, 40_000);
});
