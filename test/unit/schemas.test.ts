import { describe, expect, it } from 'vitest';
import { schemaCatalog, schemaFor } from '../../schemas/catalog.js';
import { AvroCodec, DecodeError, readFrame } from '../../schemas/codec.js';
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

describe('encodeWithId (the producers hot path)', () => {
  // no registry is contacted: encoding with a known writer id is local
  const codec = AvroCodec.connect('http://127.0.0.1:9', 'unit-');
  const frame = (topic: 'alerts', id: number, value: unknown) => {
    const header = Buffer.alloc(5);
    header.writeInt32BE(id, 1);
    return Buffer.concat([header, schemaFor(topic).type.toBuffer(value)]);
  };
  const alert = (message: string) => ({
    alertId: 'a-1',
    source: 'STOCK',
    kind: 'LOW_STOCK',
    severity: 'WARNING',
    subjectKey: 'SKU-1',
    message,
    value: 3,
    attributes: { onHand: '3' },
    sourceEventId: 'e-1',
    raisedAt: 1_795_000_000_000,
  });

  it('frames records exactly as magic byte + writer id + Avro body, small and larger than a slab', () => {
    for (const message of [
      'short',
      'x'.repeat(40_000),
      'after the growth',
      'y'.repeat(60_000),
      'z'.repeat(200_000),
    ]) {
      const value = alert(message);
      const bytes = codec.encodeWithId('alerts', 258, value as never);
      expect(bytes.equals(frame('alerts', 258, value))).toBe(true);
      expect(bytes.readInt32BE(1)).toBe(258);
      // (the largest is over what a consumer accepts: readFrame would refuse it)
      expect(schemaFor('alerts').type.fromBuffer(bytes.subarray(5))).toEqual(value);
    }
  });

  it('records handed out earlier stay as they were while later ones fill and replace slabs', () => {
    const sent = [];
    for (let i = 0; i < 3000; i++) {
      // sizes from a few bytes to several kilobytes: slabs end at every kind of boundary
      const value = alert(`m${i}:${'#'.repeat((i * 7919) % 5000)}`);
      sent.push({ value, bytes: codec.encodeWithId('alerts', i, value as never) });
    }
    for (const [i, { value, bytes }] of sent.entries()) {
      expect(bytes.equals(frame('alerts', i, value))).toBe(true);
    }
  });

  it('a value that does not match the schema says where, and leaves later encodes intact', () => {
    expect(() => codec.encodeWithId('alerts', 1, { ...alert('m'), raisedAt: 'soon' } as never)).toThrow(
      /raisedAt/,
    );
    const ok = alert('fine');
    expect(codec.encodeWithId('alerts', 1, ok as never).equals(frame('alerts', 1, ok))).toBe(true);
  });
});
