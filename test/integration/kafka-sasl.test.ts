import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafka, kafkaSecurity } from '../../runtime/kafka.js';
import { loadCommonConfig } from '../../runtime/config.js';
import { createLogger } from '../../runtime/logger.js';
import { readTopicToEnd } from '../../runtime/topic-reader.js';
import { inventoryRun, type InventoryRun } from '../helpers/inventory-run.js';
import { testKafka, testLogger, testStack } from '../helpers/pipeline.js';
import { killAll, spawnProcessor } from '../helpers/processes.js';
import { order, product, stock } from '../helpers/produce.js';
import { deleteTag } from '../helpers/redis.js';

/** The SCRAM user the stack creates on its SASL_PLAINTEXT listener. */
const SASL_ENV = {
  KAFKA_SASL_MECHANISM: 'scram-sha-512',
  KAFKA_SASL_USERNAME: 'pipeline',
  KAFKA_SASL_PASSWORD: 'kafka-local-only',
};

const saslKafka = (password = SASL_ENV.KAFKA_SASL_PASSWORD) =>
  createKafka({
    brokers: testStack().saslBrokers,
    clientId: 'sasl-test',
    logger: testLogger,
    security: kafkaSecurity(loadCommonConfig({ ...SASL_ENV, KAFKA_SASL_PASSWORD: password })),
  });

describe('Kafka with SASL/SCRAM, plain and over TLS (the local broker)', () => {
  let run: InventoryRun;
  beforeAll(async () => {
    run = await inventoryRun(testKafka('sasl'), 'sasl');
  });
  afterAll(async () => {
    await killAll();
    await deleteTag(run.redis, run.tag);
    await run.close();
  });

  it('authenticated clients produce and consume; a wrong password is refused', async () => {
    const kafka = saslKafka();
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: `${run.prefix}alerts`,
      messages: [{ key: 'k', value: 'over SCRAM' }],
      acks: -1,
    });
    await producer.disconnect();
    const seen: string[] = [];
    await readTopicToEnd(kafka, `${run.prefix}alerts`, (m) => {
      seen.push(m.value?.toString() ?? '');
    });
    expect(seen).toEqual(['over SCRAM']);

    const intruder = saslKafka('not-the-password').admin();
    await expect(intruder.connect()).rejects.toThrow(/SASL|authentication/i);
    await intruder.disconnect().catch(() => undefined);
  }, 60_000);

  it('over TLS (SASL_SSL): trusting the stack CA works; a client that does not trust it is refused', async () => {
    const tlsKafka = (caFile?: string) =>
      createKafka({
        brokers: testStack().tlsBrokers,
        clientId: 'tls-test',
        // the untrusting client's retries would fill the log with the expected refusal
        logger: caFile ? testLogger : createLogger('test', 'silent'),
        security: kafkaSecurity(
          loadCommonConfig({
            ...SASL_ENV,
            KAFKA_SSL: 'true',
            ...(caFile ? { KAFKA_SSL_CA_FILE: caFile } : {}),
          }),
        ),
      });
    const producer = tlsKafka(testStack().tlsCaFile).producer();
    await producer.connect();
    await producer.send({
      topic: `${run.prefix}alerts`,
      messages: [{ key: 't', value: 'over TLS' }],
      acks: -1,
    });
    await producer.disconnect();
    const seen: string[] = [];
    await readTopicToEnd(tlsKafka(testStack().tlsCaFile), `${run.prefix}alerts`, (m) => {
      seen.push(m.value?.toString() ?? '');
    });
    expect(seen).toContain('over TLS');

    const untrusting = tlsKafka().admin();
    await expect(untrusting.connect()).rejects.toThrow(/certificate|self.signed|SSL/i);
    await untrusting.disconnect().catch(() => undefined);
  }, 60_000);

  it('a stock processor configured for SCRAM does its job; missing credentials stop it at start', async () => {
    const sku = `${run.prefix}S-1`;
    await run.producer.send('catalogue', [{ key: sku, value: product(sku) }]);
    await run.producer.send('stock', [{ key: sku, value: stock(`${run.prefix}s`, sku, 'RECEIVED', 4) }]);
    await run.producer.send('orders', [
      {
        key: `${run.prefix}o`,
        value: order({
          eventId: `${run.prefix}o`,
          orderId: `${run.prefix}o`,
          type: 'CANCELLED',
        }),
      },
    ]);
    run.start({ KAFKA_BROKERS: testStack().saslBrokers.join(','), ...SASL_ENV });
    await run.caughtUp();
    expect(await run.store.getSku(sku)).toMatchObject({ onHand: 4 });

    const misconfigured = spawnProcessor('processors/inventory/main.ts', {
      TOPIC_PREFIX: run.prefix,
      KAFKA_BROKERS: testStack().saslBrokers.join(','),
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'pipeline',
    });
    const { code } = await misconfigured.exited;
    expect(code).toBe(2);
    expect(misconfigured.output()).toMatch(
      /KAFKA_SASL_MECHANISM=scram-sha-512 needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD/,
    );
  }, 120_000);
});
