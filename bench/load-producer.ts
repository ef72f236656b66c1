/**
 * Produces the benchmark stream at a steady rate:
 * bench/load-producer.ts <prefix>[=<checkout>][,<prefix>=<checkout>...] <events> <rate> [seed]
 * With several prefixes every event goes to each, encoded by the codec of the checkout named for
 * it (this one when none is), at `rate` events per second per prefix. The seed (2) names the
 * stream: event and order ids carry it, so a phase that must not replay an earlier one's events
 * (which the processor would skip as duplicates) needs a seed of its own.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadCommonConfig } from '../runtime/config.js';
import { createKafka } from '../runtime/kafka.js';
import { createLogger } from '../runtime/logger.js';
import { AvroCodec } from '../schemas/codec.js';
import { produceTo, type ProduceTarget } from './workload.js';

const [targetsArg = '', events = '0', rate = '0', seed = '2'] = process.argv.slice(2);
const config = loadCommonConfig();
const kafka = createKafka({
  brokers: config.KAFKA_BROKERS,
  clientId: 'bench-load',
  logger: createLogger('bench-load', 'warn'),
});
const targets: ProduceTarget[] = [];
for (const spec of targetsArg.split(',')) {
  const [prefix = '', checkout] = spec.split('=');
  const Codec = checkout
    ? (
        (await import(pathToFileURL(resolve(checkout, 'schemas/codec.ts')).href)) as {
          AvroCodec: typeof AvroCodec;
        }
      ).AvroCodec
    : AvroCodec;
  targets.push({ prefix, codec: Codec.connect(config.SCHEMA_REGISTRY_URL, prefix) });
}
await produceTo(kafka, targets, Number(events), Number(seed), Number(rate));
process.exit(0);
