import { describe, expect, it } from 'vitest';
import { checkCommonConfig, loadCommonConfig, printableCommonConfig } from '../../runtime/config.js';
import { ConfigError, redactUrl } from '../../runtime/env.js';

describe('configuration from the environment', () => {
  it('uses the documented defaults for the local stack', () => {
    const c = loadCommonConfig({});
    expect(c.KAFKA_BROKERS).toEqual(['127.0.0.1:19092']);
    expect(c.REDIS_URL).toBe('redis://pipeline:pipeline-local-only@127.0.0.1:16379');
    // the password never reaches a log line
    expect(JSON.stringify(printableCommonConfig(c))).not.toContain('pipeline-local-only');
    expect(c.TOPIC_PREFIX).toBe('');
  });

  it('lists every invalid variable in one error', () => {
    let err: unknown;
    try {
      loadCommonConfig({
        REDIS_URL: 'http://x',
        LOG_LEVEL: 'loud',
        TOPIC_PREFIX: 'a b',
        KAFKA_BROKERS: ' , ',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.join('\n');
    expect(problems).toMatch(/REDIS_URL must use redis or rediss/);
    expect(problems).toMatch(/LOG_LEVEL must be one of/);
    expect(problems).toMatch(/TOPIC_PREFIX must match/);
    expect(problems).toMatch(/KAFKA_BROKERS must list at least one value/);
  });

  it('refuses a CA file for a plain-text endpoint: TLS was meant and would silently not happen', () => {
    const problems = (env: Record<string, string>) => {
      try {
        checkCommonConfig(loadCommonConfig(env));
        return '';
      } catch (e) {
        return (e as ConfigError).problems.join('\n');
      }
    };
    expect(problems({ CLICKHOUSE_CA_FILE: '/ca.pem' })).toMatch(
      /CLICKHOUSE_CA_FILE is set but CLICKHOUSE_URL is not https/,
    );
    expect(problems({ CLICKHOUSE_CA_FILE: '/ca.pem', CLICKHOUSE_URL: 'https://ch:8443' })).toBe('');
    expect(problems({ KAFKA_SSL_CA_FILE: '/ca.pem' })).toMatch(
      /KAFKA_SSL_CA_FILE is set but KAFKA_SSL is not true/,
    );
  });

  it('never prints secrets', () => {
    const c = loadCommonConfig({
      CLICKHOUSE_PASSWORD: 'hunter2',
      REDIS_URL: 'redis://app:s3cret@localhost:6379',
    });
    const printed = JSON.stringify(printableCommonConfig(c));
    expect(printed).not.toContain('hunter2');
    expect(printed).not.toContain('s3cret');
    expect(redactUrl('redis://u:p@h:1')).toBe('redis://u:redacted@h:1');
  });
});
