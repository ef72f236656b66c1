import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { describeStack, projectRoot, TEST_STACK_BASE_PORT, type TestStack } from './helpers/stack-env.js';

declare module 'vitest' {
  export interface ProvidedContext {
    stack: TestStack;
  }
}

function stackCommand(stack: TestStack, command: string): number {
  const res = spawnSync('bash', [join(projectRoot, 'deploy/stack.sh'), command], {
    env: { ...process.env, ...stack.env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return res.status ?? 1;
}

/**
 * Starts the integration stack unless one is already up on the test ports, and stops it at
 * the end only if this run started it: tests leave no process or port behind.
 */
export default function setup(project: TestProject): () => void {
  const stack = describeStack(join(projectRoot, '.run/test'), TEST_STACK_BASE_PORT);
  const alreadyUp = stackCommand(stack, 'status') === 0;
  if (!alreadyUp && stackCommand(stack, 'up') !== 0) throw new Error('the test stack did not start');
  project.provide('stack', stack);
  return () => {
    if (!alreadyUp && !process.env.KEEP_TEST_STACK) stackCommand(stack, 'down');
  };
}
