import { request as httpRequest } from 'node:http';
import { type Agent as HttpsAgent, request as httpsRequest } from 'node:https';
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
export async function setCompatibility(
  registryUrl: string,
  subject: string,
  level: string,
  agent?: HttpsAgent,
): Promise<void> {
  const url = new URL(`${registryUrl.replace(/\/$/, '')}/config/${encodeURIComponent(subject)}`);
  const body = JSON.stringify({ compatibility: level });
  // node:http(s) rather than fetch: fetch takes no agent, and an https registry may need our CA
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = send(
      url,
      {
        method: 'PUT',
        headers: {
          'content-type': 'application/vnd.schemaregistry.v1+json',
          'content-length': Buffer.byteLength(body),
        },
        ...(agent ? { agent } : {}),
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
  if (status < 200 || status >= 300)
    throw new Error(`setting ${level} on ${subject} failed: ${status} ${text}`);
}

export async function registerSchema(
  codec: AvroCodec,
  registryUrl: string,
  topic: SchemaTopic,
  schemaText: string,
): Promise<RegisteredSubject> {
  const subject = valueSubject(codec.prefix, topic);
  await setCompatibility(registryUrl, subject, COMPATIBILITY.BACKWARD, codec.agent);
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
