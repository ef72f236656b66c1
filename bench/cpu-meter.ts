/**
 * CPU time spent by this process, the Redis server and the Kafka broker between two samples:
 * on a machine where they share the cores, how a rate divides into work per event says more
 * than the rate alone.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';

export interface CpuSample {
  process: number;
  redis: number;
  kafka: number;
}

function kafkaSeconds(): number {
  try {
    const pid = readFileSync(join(process.env.STACK_RUN_DIR ?? '.run', 'kafka', 'pid'), 'utf8').trim();
    // fields after the command name: utime and stime are the 12th and 13th, in clock ticks (100/s)
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

export async function sampleCpu(redis: Redis): Promise<CpuSample> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? Number.NaN);
  const own = process.cpuUsage();
  return {
    process: (own.user + own.system) / 1e6,
    redis: field('used_cpu_user') + field('used_cpu_sys'),
    kafka: kafkaSeconds(),
  };
}

/** Microseconds of CPU per event in each of the three, between `from` and `to`. */
export function microsPerEvent(from: CpuSample, to: CpuSample, events: number): CpuSample {
  const per = (a: number, b: number) => Math.round(((b - a) / events) * 1e6 * 10) / 10;
  return {
    process: per(from.process, to.process),
    redis: per(from.redis, to.redis),
    kafka: per(from.kafka, to.kafka),
  };
}

/** Calls and microseconds per Redis command so far (INFO commandstats; commands run by scripts included). */
export async function commandStats(redis: Redis): Promise<Map<string, { calls: number; usec: number }>> {
  const stats = new Map<string, { calls: number; usec: number }>();
  for (const m of (await redis.info('commandstats')).matchAll(/cmdstat_([^:]+):calls=(\d+),usec=(\d+)/g))
    stats.set(m[1] as string, { calls: Number(m[2]), usec: Number(m[3]) });
  return stats;
}

/** `total` plus what each command did between two commandstats samples. */
export function addCommandStats(
  total: Map<string, { calls: number; usec: number }>,
  from: Map<string, { calls: number; usec: number }>,
  to: Map<string, { calls: number; usec: number }>,
): void {
  for (const [name, t] of to) {
    const f = from.get(name) ?? { calls: 0, usec: 0 };
    const sum = total.get(name) ?? { calls: 0, usec: 0 };
    total.set(name, { calls: sum.calls + t.calls - f.calls, usec: sum.usec + t.usec - f.usec });
  }
}
