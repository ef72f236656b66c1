import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../scripts/cli-commands.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = fileURLToPath(new URL('../../bin/pipeline.mjs', import.meta.url));

function pipeline(args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
}

/** Runs the fixture with stdout to a pipe read only after the process has had time to exit. */
function readSlowly(mode: 'flushed' | 'abrupt', lines: number): Promise<string> {
  const fixture = fileURLToPath(new URL('./fixtures/write-then-exit.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, String(lines), mode], { cwd: root });
  child.stdout.pause();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    child.on('error', reject);
    setTimeout(() => {
      child.stdout.on('data', (c: Buffer) => chunks.push(c));
      child.stdout.resume();
    }, 1_500);
    child.stdout.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

describe('the pipeline command', () => {
  it('lists every command under --help and exits 0', () => {
    const r = pipeline(['--help']);
    expect(r.status, r.stderr).toBe(0);
    for (const c of COMMANDS) expect(r.stdout).toContain(c.name);
  });

  it('has --help for every command, naming its options and --json where it reads', async () => {
    const runs = await Promise.all(
      COMMANDS.map(
        (c) =>
          new Promise<{ c: (typeof COMMANDS)[number]; out: string; code: number | null }>((resolve) => {
            const child = spawn(process.execPath, [bin, ...c.name.split(' '), '--help'], { cwd: root });
            let out = '';
            child.stdout.on('data', (d: Buffer) => (out += d.toString()));
            child.on('close', (code) => resolve({ c, out, code }));
          }),
      ),
    );
    for (const { c, out, code } of runs) {
      expect(code, c.name).toBe(0);
      expect(out, c.name).toContain(`usage: pipeline ${c.name}`);
      for (const flag of Object.keys(c.options ?? {})) expect(out, c.name).toContain(`--${flag}`);
      expect(out.includes('--json'), c.name).toBe(c.json === true);
    }
  }, 120_000);

  it('refuses what it does not know with exit 2 and the usage on stderr', () => {
    const unknown = pipeline(['stock', 'sell']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('unknown command');
    const badFlag = pipeline(['stock', 'show', 'SKU-1', '--colour']);
    expect(badFlag.status).toBe(2);
    expect(badFlag.stderr).toContain('usage: pipeline stock show <sku>');
    const missing = pipeline(['order', 'show']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('order show takes <orderId>');
  });

  it('exits only after a slow reader has every line, summary included', async () => {
    const lines = 60_000; // about 4 MB: far more than a pipe holds
    const out = await readSlowly('flushed', lines);
    expect(out.split('\n').filter(Boolean)).toHaveLength(lines + 1);
    expect(out.endsWith('summary: done\n')).toBe(true);
    // the way commands used to end loses the tail: what the test above would catch
    const abrupt = await readSlowly('abrupt', lines);
    expect(abrupt.endsWith('summary: done\n')).toBe(false);
  }, 60_000);
});
