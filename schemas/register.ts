import { COMPATIBILITY, SchemaType } from '@kafkajs/confluent-schema-registry';
import { schemaCatalog, valueSubject } from './catalog.js';
import type { AvroCodec } from './codec.js';
import type { SchemaTopic } from './types.js';

export interface RegisteredSubject {
  subject: string;
  id: number;
}

/**
 * Sets BACKWARD compatibility on a subject before registering, so the registry itself refuses
 * a change that would break consumers reading older messages.
 */
export async function setCompatibility(registryUrl: string, subject: string, level: string): Promise<void> {
  const res = await fetch(`${registryUrl.replace(/\/$/, '')}/config/${encodeURIComponent(subject)}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ compatibility: level }),
  });
  if (!res.ok) throw new Error(`setting ${level} on ${subject} failed: ${res.status} ${await res.text()}`);
}

export async function registerSchema(
  codec: AvroCodec,
  registryUrl: string,
  topic: SchemaTopic,
  schemaText: string,
): Promise<RegisteredSubject> {
  const subject = valueSubject(codec.prefix, topic);
  await setCompatibility(registryUrl, subject, COMPATIBILITY.BACKWARD);
  const { id } = await codec.registry.register(
    { type: SchemaType.AVRO, schema: schemaText },
    { subject, compatibility: COMPATIBILITY.BACKWARD },
  );
  return { subject, id };
}

export async function registerAllSchemas(
  codec: AvroCodec,
  registryUrl: string,
): Promise<RegisteredSubject[]> {
  const out: RegisteredSubject[] = [];
  for (const entry of schemaCatalog.values()) {
    out.push(await registerSchema(codec, registryUrl, entry.topic, entry.text));
  }
  return out;
}
