import { readFileSync } from 'node:fs';
import { createClient, type ClickHouseClient } from '@clickhouse/client';

export const METRICS_DATABASE = 'pipeline_metrics';

export interface ClickHouseOptions {
  url: string;
  username: string;
  password: string;
  /** Fail fast: a metrics write must never hold up the caller for long. */
  requestTimeoutMs?: number;
  /** PEM of the CA that signed the server's certificate, for an https:// url */
  caFile?: string | undefined;
}

export function createClickHouse(options: ClickHouseOptions): ClickHouseClient {
  return createClient({
    url: options.url,
    username: options.username,
    password: options.password,
    request_timeout: options.requestTimeoutMs ?? 10_000,
    // 18.16 has no async_insert; batching happens in our sink
    clickhouse_settings: {},
    compression: { request: false, response: false },
    ...(options.caFile ? { tls: { ca_cert: readFileSync(options.caFile) } } : {}),
  });
}

/** `YYYY-MM-DD hh:mm:ss` in UTC: the DateTime text every ClickHouse version parses. */
export function toClickHouseDateTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}
