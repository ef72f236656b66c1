/** Produces the benchmark stream at a steady rate: bench/load-producer.ts <prefix> <events> <rate> */
import { loadCommonConfig } from '../runtime/config.js';
import { createKafka } from '../runtime/kafka.js';
import { createLogger } from '../runtime/logger.js';
import { AvroCodec } from '../schemas/codec.js';
import { produce } from './workload.js';

const [prefix = '', events = '0', rate = '0'] = process.argv.slice(2);
const config = loadCommonConfig();
const kafka = createKafka({
  brokers: config.KAFKA_BROKERS,
  clientId: 'bench-load',
  logger: createLogger('bench-load', 'warn'),
});
const codec = AvroCodec.connect(config.SCHEMA_REGISTRY_URL, prefix);
await produce(kafka, codec, prefix, Number(events), 2, Number(rate));
process.exit(0);
