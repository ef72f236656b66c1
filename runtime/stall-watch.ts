/**
 * Notices partitions that have work and make no progress: a chunk retried without end because
 * Redis or Kafka is gone, a publish that keeps failing. Once per stall it reports the partition
 * (the runner then turns readiness false and raises an alert) and once when it moves again.
 */
export class StallWatch {
  private readonly parts = new Map<string, { busySince: number | null; stalled: boolean }>();

  constructor(
    private readonly stallAfterMs: number,
    private readonly onStall: (tp: string, forMs: number) => void,
    private readonly onRecover: (tp: string, stalledMs: number) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** A chunk of this partition started (or is still) waiting to be applied and published. */
  busy(tp: string): void {
    let p = this.parts.get(tp);
    if (!p) this.parts.set(tp, (p = { busySince: null, stalled: false }));
    if (p.busySince === null) p.busySince = this.now();
  }

  /** The partition resolved an offset: whatever held it is gone. */
  progressed(tp: string): void {
    const p = this.parts.get(tp);
    if (!p) return;
    const since = p.busySince;
    p.busySince = null;
    if (p.stalled) {
      p.stalled = false;
      this.onRecover(tp, since === null ? 0 : this.now() - since);
    }
  }

  /** The partition left this instance (rebalance) or the work was dropped (stopping). */
  forget(tp: string): void {
    const p = this.parts.get(tp);
    if (p?.stalled) this.onRecover(tp, p.busySince === null ? 0 : this.now() - p.busySince);
    this.parts.delete(tp);
  }

  check(): void {
    const now = this.now();
    for (const [tp, p] of this.parts) {
      if (p.busySince === null || p.stalled) continue;
      if (now - p.busySince >= this.stallAfterMs) {
        p.stalled = true;
        this.onStall(tp, now - p.busySince);
      }
    }
  }

  get stalled(): string[] {
    return [...this.parts].filter(([, p]) => p.stalled).map(([tp]) => tp);
  }
}
