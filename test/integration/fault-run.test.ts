import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runFaultScenario } from '../../scripts/fault-scenario.js';
import { projectRoot } from '../helpers/stack-env.js';

// The short version of `npm run fault:run`, on a private stack of its own (ports 27xxx) because
// it restarts Kafka and Redis and stops ClickHouse.
describe('fault run, short: kills and restarts while every processor works', () => {
  it('ends with stock equal to the model, nothing oversold, every order present and applied once', async () => {
    const result = await runFaultScenario({
      events: Number(process.env.FAULT_TEST_EVENTS ?? 20_000),
      rate: 1_000,
      skus: 100,
      stockShards: 4,
      killEveryMs: 3_000,
      basePort: Number(process.env.FAULT_TEST_BASE_PORT ?? 27_000),
      runDir: join(projectRoot, '.run/fault-test'),
      seed: 7,
      log: (msg) => console.log(`[fault-test] ${msg}`),
      logDir: join(projectRoot, 'test-artifacts/fault-run'),
    });
    console.log(
      `[fault-test] ${JSON.stringify({ ...result, stockDifferences: result.stockDifferences.slice(0, 5) })}`,
    );
    expect(result.processorKills).toBeGreaterThanOrEqual(3);
    // no processor died by itself: one restarted while the broker was down waits for it
    expect(result.exitReasons).toEqual([]);
    expect(result.kafkaRestarts).toBe(1);
    expect(result.redisRestarts).toBe(1);
    expect(result.stockDifferences).toEqual([]);
    expect(result.oversoldSkus).toEqual([]);
    expect(result.ordersChecked).toBeGreaterThan(1_000);
    expect(result.ordersLost).toEqual([]);
    expect(result.ordersWithDoubleApplied).toEqual([]);
  }, 900_000);
});
