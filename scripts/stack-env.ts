/**
 * The variables that put a private copy of the local stack on its own ports and run directory
 * (tests, the fault run): base+92 Kafka, +93 its controller, +94/+95 its SASL listeners (plain, TLS), +81 the
 * registry, +79 Redis, +23/+90 ClickHouse HTTP/native, +170..172 a Redis Cluster (cluster-up).
 */
export function stackEnvFor(runDir: string, basePort: number): Record<string, string> {
  return {
    STACK_RUN_DIR: runDir,
    KAFKA_PORT: String(basePort + 92),
    KAFKA_CONTROLLER_PORT: String(basePort + 93),
    KAFKA_SASL_PORT: String(basePort + 94),
    KAFKA_TLS_PORT: String(basePort + 95),
    REGISTRY_PORT: String(basePort + 81),
    REDIS_PORT: String(basePort + 79),
    CLICKHOUSE_HTTP_PORT: String(basePort + 23),
    CLICKHOUSE_TCP_PORT: String(basePort + 90),
    CLICKHOUSE_HTTPS_PORT: String(basePort + 43),
    REGISTRY_TLS_PORT: String(basePort + 44),
    REDIS_CLUSTER_PORTS: [170, 171, 172].map((d) => basePort + d).join(' '),
  };
}

/**
 * The replicated profile's variables on the same base port: Kafka nodes on base+192, +292, +392
 * (each controller one above), Redis Cluster nodes on base+401..406 (buses 100 above).
 */
export function replicatedStackEnvFor(runDir: string, basePort: number): Record<string, string> {
  return {
    ...stackEnvFor(runDir, basePort),
    KAFKA_REPLICATED_PORTS: [192, 292, 392].map((d) => basePort + d).join(' '),
    REDIS_REPLICATED_PORTS: [401, 402, 403, 404, 405, 406].map((d) => basePort + d).join(' '),
  };
}
