import { defineConfig } from 'vitest/config';

// Unit tests need no services. Integration tests share one real stack, started once by
// test/global-setup.ts, and run one file at a time: they share one broker and Redis on 2 cores.
export default defineConfig({
  test: {
    projects: [
      {
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'] },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/global-setup.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
