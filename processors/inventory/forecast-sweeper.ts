import type { Logger } from '../../runtime/logger.js';
import { Periodic } from '../../runtime/periodic.js';
import type { StockStore } from './store.js';

export interface ForecastSweeperOptions {
  intervalMs: number;
  /** most SKUs re-checked per shard and sweep */
  batch: number;
  logger: Logger;
}

/**
 * Clears stock-out predictions that a slowdown lifted while no event came for the SKU: every
 * interval, each shard's standing predictions are re-checked as of now (sweep-predictions.lua).
 * Each instance sweeps; a clearing is one script call, so two instances clear a SKU once.
 */
export class ForecastSweeper {
  private readonly loop: Periodic;
  private readonly offsets = new Map<number, number>();

  constructor(
    private readonly store: StockStore,
    private readonly options: ForecastSweeperOptions,
  ) {
    this.loop = new Periodic(
      options.intervalMs,
      () => this.sweepOnce(),
      (err) => options.logger.warn({ err: err.message }, 'forecast sweep failed; retrying'),
    );
  }

  start(): void {
    this.loop.start();
  }

  async sweepOnce(now = Date.now()): Promise<number> {
    let cleared = 0;
    for (let shard = 0; shard < this.store.shards.count; shard++) {
      const r = await this.store.sweepPredictions(
        shard,
        this.offsets.get(shard) ?? 0,
        this.options.batch,
        now,
      );
      this.offsets.set(shard, r.next);
      cleared += r.cleared;
    }
    if (cleared)
      this.options.logger.info({ skus: cleared }, 'stock-out predictions cleared: sales slowed down');
    return cleared;
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }
}
