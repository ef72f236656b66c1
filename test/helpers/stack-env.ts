import { fileURLToPath } from 'node:url';
import { stackEnvFor } from '../../scripts/stack-env.js';

export { stackEnvFor };

/**
 * The stack the integration tests run against: its own ports and run directory, so a demo
 * stack started with `npm start` on the same machine is never touched by a test run.
 */
export interface TestStack {
  runDir: string;
  brokers: string[];
  /** the SASL_PLAINTEXT (SCRAM) listener, user pipeline / kafka-local-only */
  saslBrokers: string[];
  /** the SASL_SSL listener, and the CA that signed its certificate */
  tlsBrokers: string[];
  tlsCaFile: string;
  registryUrl: string;
  redisUrl: string;
  clickhouseUrl: string;
  /** ClickHouse's HTTPS port; its certificate is signed by the same CA as Kafka's (tlsCaFile) */
  clickhouseHttpsUrl: string;
  /** the registry's HTTPS port, certificate from the same CA */
  registryHttpsUrl: string;
  env: Record<string, string>;
}

export const projectRoot = fileURLToPath(new URL('../..', import.meta.url));

export function describeStack(runDir: string, basePort: number): TestStack {
  const env = stackEnvFor(runDir, basePort);
  return {
    runDir,
    brokers: [`127.0.0.1:${env.KAFKA_PORT}`],
    saslBrokers: [`127.0.0.1:${env.KAFKA_SASL_PORT}`],
    tlsBrokers: [`127.0.0.1:${env.KAFKA_TLS_PORT}`],
    tlsCaFile: `${runDir}/kafka/tls/ca.pem`,
    registryUrl: `http://127.0.0.1:${env.REGISTRY_PORT}/apis/ccompat/v7`,
    redisUrl: `redis://127.0.0.1:${env.REDIS_PORT}`,
    clickhouseUrl: `http://127.0.0.1:${env.CLICKHOUSE_HTTP_PORT}`,
    clickhouseHttpsUrl: `https://127.0.0.1:${env.CLICKHOUSE_HTTPS_PORT}`,
    registryHttpsUrl: `https://127.0.0.1:${env.REGISTRY_TLS_PORT}/apis/ccompat/v7`,
    env,
  };
}

/** Base port of the shared integration-test stack (ports 29023..29093). */
export const TEST_STACK_BASE_PORT = Number(process.env.TEST_STACK_BASE_PORT ?? 29000);
