import { describe, expect, it } from 'vitest';
import { schemaCatalog, schemaFor } from '../../schemas/catalog.js';
import { DecodeError, readFrame } from '../../schemas/codec.js';
import { topicDefinitions } from '../../topics/definitions.js';
import { DemoTraffic } from '../../scripts/demo-traffic.js';

describe('schemas as code', () => {
  it('every topic with a schema has a parseable Avro record, every input a dead-letter topic', () => {
    const names = new Set(topicDefinitions.map((d) => d.name));
    for (const def of topicDefinitions) {
      if (def.valueSchema) expect(schemaCatalog.get(def.name as never)?.type.typeName).toBe('record');
      if (def.role === 'input') expect(names.has(`${def.name}.dlq`)).toBe(true);
    }
  });

  it('the TypeScript event shapes match the Avro schemas (demo traffic validates)', () => {
    const traffic = new DemoTraffic({ seed: 7, skus: 20, now: () => 1_795_000_000_000 });
    const messages = [...traffic.opening()];
    for (let i = 0; i < 3000; i++) messages.push(traffic.next());
    const seen = new Set<string>();
    for (const m of messages) {
      const paths: string[] = [];
      const ok = schemaFor(m.topic).type.isValid(m.value, { errorHook: (p) => paths.push(p.join('.')) });
      expect(ok, `${m.topic} invalid at ${paths.join(',')}`).toBe(true);
      seen.add(`${m.topic}:${(m.value as { type?: string }).type ?? ''}`);
    }
    // the demo mix covers every kind of upstream event the processors handle
    for (const kind of [
      'orders:PLACED',
      'orders:PAID',
      'orders:CANCELLED',
      'orders:SHIPPED',
      'stock:RECEIVED',
    ]) {
      expect(seen.has(kind), kind).toBe(true);
    }
    for (const kind of ['stock:ADJUSTED', 'stock:COUNTED', 'carrier:DELIVERED', 'carrier:IN_TRANSIT']) {
      expect(seen.has(kind), kind).toBe(true);
    }
  });

  it('the same seed gives the same traffic', () => {
    const a = new DemoTraffic({ seed: 3, skus: 10, now: () => 1 });
    const b = new DemoTraffic({ seed: 3, skus: 10, now: () => 1 });
    for (let i = 0; i < 200; i++) expect(a.next()).toEqual(b.next());
  });

  it('reads the Confluent frame and refuses anything else without a registry', () => {
    const frame = Buffer.from([0, 0, 0, 1, 44, 2, 4]);
    expect(readFrame(frame).schemaId).toBe(300);
    expect(() => readFrame(Buffer.from([1, 0, 0, 0, 1, 2]))).toThrow(DecodeError);
    expect(() => readFrame(Buffer.from([0, 0]))).toThrow(/not Confluent-framed/);
  });
});
