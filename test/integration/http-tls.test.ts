import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse } from '../../observability/clickhouse.js';
import { migrate } from '../../observability/migrate.js';
import { AvroCodec } from '../../schemas/codec.js';
import { registerAllSchemas } from '../../schemas/register.js';
import { inventoryRun, type InventoryRun } from '../helpers/inventory-run.js';
import { testKafka, testStack, uniquePrefix } from '../helpers/pipeline.js';
import { killAll } from '../helpers/processes.js';
import { product, stock } from '../helpers/produce.js';
import { deleteTag } from '../helpers/redis.js';

// ClickHouse's and the registry's HTTPS ports (certificates from the stack's private CA, as
// Kafka's SASL_SSL one): a processor reads its schemas and writes its metrics over TLS, and a
// client that does not trust the CA is refused.
describe('ClickHouse and the schema registry over TLS', () => {
  let run: InventoryRun;

  beforeAll(async () => {
    run = await inventoryRun(testKafka('chtls-test'), 'chtls');
  });

  afterAll(async () => {
    await killAll();
    await deleteTag(run.redis, run.tag);
    await run.close();
  });

  it('verifies the server against the CA: trusted with CLICKHOUSE_CA_FILE, refused without', async () => {
    const trusted = createClickHouse({
      url: testStack().clickhouseHttpsUrl,
      username: 'default',
      password: '',
      caFile: testStack().tlsCaFile,
    });
    await migrate(trusted);
    const rs = await trusted.query({ query: 'SELECT 1 AS one', format: 'JSONEachRow' });
    expect(await rs.json()).toEqual([{ one: 1 }]);
    await trusted.close();

    const untrusting = createClickHouse({
      url: testStack().clickhouseHttpsUrl,
      username: 'default',
      password: '',
    });
    await expect(untrusting.query({ query: 'SELECT 1', format: 'JSONEachRow' })).rejects.toThrow(
      /certificate|self.signed|verify/i,
    );
    await untrusting.close();
  });

  it('registers and resolves schemas over https with the CA; refused without it', async () => {
    const tlsPrefix = uniquePrefix('regtls');
    const trusted = AvroCodec.connect(testStack().registryHttpsUrl, tlsPrefix, testStack().tlsCaFile);
    const registered = await registerAllSchemas(trusted, testStack().registryHttpsUrl);
    expect(registered.length).toBeGreaterThan(5);
    const value = stock('tls-1', 'T-9', 'RECEIVED', 3);
    const bytes = await trusted.encode('stock', value);
    // a reader without a cached schema resolves the id over TLS too
    const reader = AvroCodec.connect(testStack().registryHttpsUrl, tlsPrefix, testStack().tlsCaFile);
    expect(await reader.decode('stock', bytes)).toMatchObject({ eventId: 'tls-1', sku: 'T-9', quantity: 3 });

    const untrusting = AvroCodec.connect(testStack().registryHttpsUrl, uniquePrefix('regtls-no'));
    await expect(registerAllSchemas(untrusting, testStack().registryHttpsUrl)).rejects.toThrow(
      /certificate|self.signed|verify/i,
    );
  });

  it('a stock processor reads schemas and writes its batch metrics over https', async () => {
    await run.producer.send('catalogue', [{ key: 'T-1', value: product('T-1', 5) }]);
    await run.producer.send(
      'stock',
      Array.from({ length: 40 }, (_, i) => ({ key: 'T-1', value: stock(`ts-${i}`, 'T-1', 'RECEIVED', 1) })),
    );
    const proc = run.start({
      METRICS_ENABLED: 'true',
      CLICKHOUSE_URL: testStack().clickhouseHttpsUrl,
      CLICKHOUSE_CA_FILE: testStack().tlsCaFile,
      SCHEMA_REGISTRY_URL: testStack().registryHttpsUrl,
      SCHEMA_REGISTRY_CA_FILE: testStack().tlsCaFile,
    });
    await run.caughtUp();
    proc.child.kill('SIGTERM'); // a graceful stop flushes the last metrics
    expect((await proc.exited).code, proc.output()).toBe(0);
    expect(proc.output()).not.toMatch(/metrics.*(fail|error)/i);

    const admin = createClickHouse({ url: testStack().clickhouseUrl, username: 'default', password: '' });
    const rs = await admin.query({
      query: `SELECT sum(events_in) AS events FROM pipeline_metrics.batches WHERE consumer_group = '${run.group}'`,
      format: 'JSONEachRow',
    });
    expect(Number(((await rs.json()) as { events: string }[])[0]?.events)).toBe(40);
    await admin.close();
  }, 120_000);
});
