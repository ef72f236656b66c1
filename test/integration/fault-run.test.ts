import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runFaultScenario } from '../../scripts/fault-scenario.js';
import { projectRoot } from '../helpers/stack-env.js';

// The short version of `npm run fault:run`, on a private replicated stack of its own (3 Kafka
// nodes, a Redis Cluster with a replica per master; ports 27xxx): it kills nodes of both,
// rolls Redis back and stops ClickHouse, and an oracle reading only the inputs checks the end.
describe('fault run, short: replicated engines, kills, failover, rollback', () => {
  it('ends with the state the inputs imply: nothing oversold, lost or applied twice', async () => {
    const result = await runFaultScenario({
      events: Number(process.env.FAULT_TEST_EVENTS ?? 20_000),
      rate: 800,
      skus: 100,
      stockShards: 4,
      killEveryMs: 4_000,
      basePort: Number(process.env.FAULT_TEST_BASE_PORT ?? 27_000),
      runDir: join(projectRoot, '.run/fault-test'),
      seed: 7,
      log: (msg) => console.log(`[fault-test] ${msg}`),
      logDir: join(projectRoot, 'test-artifacts/fault-run'),
    });
    const o = result.oracle;
    console.log(
      `[fault-test] ${JSON.stringify({ ...result, oracle: { ...o, stockDifferences: o.stockDifferences.slice(0, 5) } })}`,
    );
    expect(result.processorKills).toBeGreaterThanOrEqual(3);
    // no processor died by itself: one restarted while a broker or Redis was away waits for it
    expect(result.exitReasons).toEqual([]);
    expect(result.kafkaNodeKilled).not.toBeNull();
    expect(result.redisMasterKilled).not.toBeNull();
    expect(result.redisRollback?.keys).toBeGreaterThan(0);
    expect(o.inputs.orders).toBeGreaterThan(1_000);
    expect(o.stockDifferences).toEqual([]);
    expect(o.oversold).toEqual([]);
    expect(o.holdDifferences).toEqual([]);
    expect(o.orderDifferences).toEqual([]);
    expect(o.impossibleReservations).toEqual([]);
    expect(o.ordersLost).toEqual([]);
    expect(o.ordersDoubleApplied).toEqual([]);
    expect(o.shipmentDifferences).toEqual([]);
    expect(o.changelogDifferences).toEqual([]);
  }, 1_200_000);
});
