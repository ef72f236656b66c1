/**
 * Runs `work` again `intervalMs` after each run ends (never two at once); a failing run is
 * reported and the next one tries again. `stop` waits for a run in progress.
 */
export class Periodic {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly intervalMs: number,
    private readonly work: () => Promise<unknown>,
    private readonly onError: (err: Error) => void,
  ) {}

  start(): void {
    const tick = () => {
      this.running = this.work()
        .then(() => undefined)
        .catch(this.onError)
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.intervalMs);
        });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    if (this.timer) clearTimeout(this.timer);
  }
}
