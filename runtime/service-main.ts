import type { Logger } from './logger.js';
import { onShutdown } from './shutdown.js';

/** A start-up failure that waiting cannot fix (a wrong setting): no retry, exit 2. */
export class PermanentStartError extends Error {}

export interface Startable {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface RunServiceOptions {
  name: string;
  logger: Logger;
  /** a fresh service per attempt: a half-started one is stopped and thrown away */
  create: () => Startable;
  attempts: number;
  retryDelayMs: number;
}

/**
 * Starts a processor, retrying when what it needs is not there yet (a broker restarting, Redis
 * coming up after it): a processor started in the same minute as its dependencies should wait
 * for them, not exit and rely on a supervisor. After the last attempt it exits 1.
 */
export async function runService(o: RunServiceOptions): Promise<void> {
  let current: Startable | null = null;
  let stopping = false;
  onShutdown(o.logger, async () => {
    stopping = true;
    await current?.stop();
  });
  for (let attempt = 1; ; attempt++) {
    const service = o.create();
    current = service;
    try {
      await service.start();
      return;
    } catch (err) {
      await service.stop().catch(() => undefined);
      if (stopping) return;
      if (err instanceof PermanentStartError) {
        o.logger.fatal({ err: err.message }, `${o.name} cannot start`);
        process.exit(2);
      }
      if (attempt >= o.attempts) {
        o.logger.fatal({ err, attempts: attempt }, `${o.name} failed to start`);
        process.exit(1);
      }
      o.logger.error(
        { err: (err as Error).message, attempt, of: o.attempts, retryInMs: o.retryDelayMs },
        `${o.name} could not start; retrying`,
      );
      await new Promise((r) => setTimeout(r, o.retryDelayMs));
    }
  }
}
