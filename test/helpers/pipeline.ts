import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { createKafka } from '../../runtime/kafka.js';
import { createLogger } from '../../runtime/logger.js';
import { AvroCodec } from '../../schemas/codec.js';
import { registerAllSchemas } from '../../schemas/register.js';
import { applyTopics } from '../../topics/apply.js';

export const testLogger = createLogger('test', process.env.TEST_LOG_LEVEL ?? 'warn');

/** A prefix no other test (or earlier run) uses, so every test file gets its own topics and subjects. */
export function uniquePrefix(name: string): string {
  return `t${Date.now().toString(36)}${randomBytes(2).toString('hex')}-${name}-`;
}

export function testStack() {
  return inject('stack');
}

export function testKafka(clientId = 'test') {
  return createKafka({ brokers: testStack().brokers, clientId, logger: testLogger });
}

export function testCodec(prefix: string): AvroCodec {
  return AvroCodec.connect(testStack().registryUrl, prefix);
}

/** Topics and schemas under a fresh prefix, as `pipeline setup` would make them. */
export async function provisionPrefix(prefix: string): Promise<AvroCodec> {
  const admin = testKafka('provision').admin();
  await admin.connect();
  try {
    await applyTopics(admin, prefix);
  } finally {
    await admin.disconnect();
  }
  const codec = testCodec(prefix);
  await registerAllSchemas(codec, testStack().registryUrl);
  return codec;
}
