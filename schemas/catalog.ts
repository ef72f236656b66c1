import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';
import { topicDefinitions } from '../topics/definitions.js';
import type { SchemaTopic } from './types.js';

const avroDir = fileURLToPath(new URL('./avro/', import.meta.url));

export interface SchemaEntry {
  topic: SchemaTopic;
  file: string;
  /** The schema as JSON text, exactly as registered. */
  text: string;
  type: avro.Type;
}

function load(): Map<SchemaTopic, SchemaEntry> {
  const entries = new Map<SchemaTopic, SchemaEntry>();
  for (const def of topicDefinitions) {
    if (!def.valueSchema) continue;
    const text = readFileSync(avroDir + def.valueSchema, 'utf8');
    const type = avro.Type.forSchema(JSON.parse(text) as avro.Schema);
    entries.set(def.name as SchemaTopic, {
      topic: def.name as SchemaTopic,
      file: def.valueSchema,
      text,
      type,
    });
  }
  return entries;
}

/** The current (reader) schema of every topic that has one. */
export const schemaCatalog: ReadonlyMap<SchemaTopic, SchemaEntry> = load();

export function schemaFor(topic: SchemaTopic): SchemaEntry {
  const entry = schemaCatalog.get(topic);
  if (!entry) throw new Error(`no schema for topic ${topic}`);
  return entry;
}

/** TopicNameStrategy, as Confluent serializers use: `<topic>-value`. */
export function valueSubject(prefix: string, topic: SchemaTopic): string {
  return `${prefix}${topic}-value`;
}
