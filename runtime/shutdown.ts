import type { Logger } from './logger.js';
import { watchSupervisor } from './supervisor-watch.js';

/**
 * SIGTERM/SIGINT/SIGHUP, or the end of the `npm start` launcher that started this process, run
 * `stop` once (stop fetching, finish in-flight work, commit, flush, close); a second signal, or a
 * stop that hangs past the grace period, exits at once.
 */
export function onShutdown(logger: Logger, stop: () => Promise<void>, graceMs = 30_000): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals | 'SUPERVISOR_GONE') => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ graceMs }, 'shutdown took too long: exiting');
      process.exit(1);
    }, graceMs);
    timer.unref();
    stop().then(
      () => {
        logger.info('stopped cleanly');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  process.on('SIGHUP', handler);
  watchSupervisor((pid) => {
    logger.warn({ supervisor: pid }, 'the launcher that started this process is gone');
    handler('SUPERVISOR_GONE');
  });
}
