import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, freemem, totalmem, loadavg, hostname } from 'node:os';
import { join } from 'node:path';

/** What the figures were measured on: a benchmark result without it means little. */
export function describeMachine(redisVersion?: string): Record<string, unknown> {
  let kernel: string;
  try {
    kernel = execFileSync('uname', ['-sr'], { encoding: 'utf8' }).trim();
  } catch {
    kernel = 'unknown';
  }
  let kafka = 'unknown';
  try {
    kafka = /<kafka\.version>([^<]+)</.exec(readFileSync('deploy/kafka/pom.xml', 'utf8'))?.[1] ?? kafka;
  } catch {
    // not run from the project root
  }
  return {
    host: hostname(),
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    freeMemoryGiB: Math.round((freemem() / 2 ** 30) * 10) / 10,
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
    kernel,
    node: process.version,
    kafka,
    redis: redisVersion ?? 'unknown',
    note: 'Kafka, the schema registry, Redis, ClickHouse and the benchmark share these cores',
  };
}

export function writeResults(name: string, results: Record<string, unknown>): string {
  const dir = join('bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  return file;
}

/** Runs a benchmark's main and exits: 0 when it finished, 1 with the error printed when not. */
export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
