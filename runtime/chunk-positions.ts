/**
 * Redis no longer holds writes this instance applied and saw acknowledged (a failover to a
 * replica that had not received them, a restore from an older copy): the partitions named go
 * back to where Redis stands. Thrown by the runner's own check, and by a script that finds a
 * partition's position below what the caller says it applied (the check travels with the call,
 * so a call a client queued across a reconnection cannot apply on the lost state).
 */
export class PositionLostError extends Error {
  override readonly name = 'PositionLostError';
  /** `topic:partition` -> the offset to resume at */
  constructor(readonly resumeAt: ReadonlyMap<string, number>) {
    super(`Redis lost applied writes of ${[...resumeAt.keys()].join(', ')}`);
  }
}

/** A chunk's partition position as a script call records it. */
export interface ChunkPosition {
  topic: string;
  partition: number;
  upTo: number;
  /** the runner's last applied offset of the partition: the script refuses a position below it */
  expectedApplied?: number;
}

/** The scripts' `wm` list (runtime/lua/partition-positions.lua): key index, new position, expected. */
export function positionArgs(
  positions: readonly ChunkPosition[],
  keyIndexOf: (p: ChunkPosition) => number,
): { k: number; up: number; ex?: number }[] {
  return positions.map((p) => ({
    k: keyIndexOf(p),
    up: p.upTo,
    ...(p.expectedApplied !== undefined ? { ex: p.expectedApplied } : {}),
  }));
}

/**
 * A script's reply that refused the call because positions went back (`{ lost: [[index, at]] }`,
 * 1-based indices into `positions`) becomes a PositionLostError: each partition resumes after
 * where Redis stands.
 */
export function throwIfPositionsWentBack(
  reply: unknown,
  positions: readonly { topic: string; partition: number }[],
): void {
  if (typeof reply !== 'object' || reply === null || Array.isArray(reply) || !('lost' in reply)) return;
  const resumeAt = new Map<string, number>();
  for (const [index, at] of (reply as { lost: [number, number][] }).lost) {
    const p = positions[index - 1];
    if (p) resumeAt.set(`${p.topic}:${p.partition}`, at + 1);
  }
  throw new PositionLostError(resumeAt);
}

/** A chunk's position as its domain's script call records and checks it. */
export function chunkPosition(c: {
  topic: string;
  partition: number;
  upTo: number;
  expectedApplied?: number;
}): ChunkPosition {
  return {
    topic: c.topic,
    partition: c.partition,
    upTo: c.upTo,
    ...(c.expectedApplied !== undefined ? { expectedApplied: c.expectedApplied } : {}),
  };
}
