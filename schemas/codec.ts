import { readFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';
import { schemaFor, valueSubject } from './catalog.js';
import type { SchemaTopic, TopicValues } from './types.js';

/**
 * Why a message could not be decoded. All of these are permanent for that message: it goes to
 * the dead-letter topic. A registry that cannot be reached is NOT one of them (see
 * RegistryUnavailableError): that is transient and must never dead-letter good messages.
 */
export type DecodeErrorKind =
  | 'EMPTY'
  | 'TOO_LARGE'
  | 'NOT_CONFLUENT_FRAMED'
  | 'UNKNOWN_SCHEMA_ID'
  | 'INCOMPATIBLE_SCHEMA'
  | 'MALFORMED_PAYLOAD';

/**
 * No event of ours comes near this (a 100-line order is about 4 KiB); anything larger is refused
 * before decoding, so a hostile producer cannot make a processor allocate huge arrays or strings.
 */
export const MAX_EVENT_BYTES = 64 * 1024;

export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  constructor(
    readonly kind: DecodeErrorKind,
    message: string,
    readonly schemaId?: number,
  ) {
    super(message);
  }
}

export class RegistryUnavailableError extends Error {
  override readonly name = 'RegistryUnavailableError';
}

export class EncodeError extends Error {
  override readonly name = 'EncodeError';
  constructor(
    message: string,
    readonly paths: string[],
  ) {
    super(message);
  }
}

const MAGIC_BYTE = 0;
const HEADER_LENGTH = 5;
/**
 * encodeWithId writes each record straight into the free end of a shared slab and hands out
 * that part of it, the way Node pools small buffers: no allocation and no copy per record. A
 * slab stays in memory while any record in it does (until its send is done); one that a
 * record does not fit in is left to those and a new one begun.
 */
const SLAB_BYTES = 64 * 1024;
let slab = Buffer.allocUnsafe(SLAB_BYTES);
let slabUsed = 0;

function httpStatus(err: unknown): number | undefined {
  if (err && typeof err === 'object' && 'status' in err && typeof err.status === 'number') return err.status;
  return undefined;
}

/** Reads the Confluent wire header; exported for tests and for dead-letter diagnostics. */
export function readFrame(buf: Buffer | null): { schemaId: number; payload: Buffer } {
  if (!buf || buf.length === 0) throw new DecodeError('EMPTY', 'message has no value');
  if (buf.length > MAX_EVENT_BYTES) {
    throw new DecodeError('TOO_LARGE', `value is ${buf.length} bytes; the limit is ${MAX_EVENT_BYTES}`);
  }
  if (buf.length < HEADER_LENGTH || buf[0] !== MAGIC_BYTE) {
    throw new DecodeError(
      'NOT_CONFLUENT_FRAMED',
      `value is not Confluent-framed Avro (length ${buf.length}, first byte ${buf[0]})`,
    );
  }
  return { schemaId: buf.readInt32BE(1), payload: buf.subarray(HEADER_LENGTH) };
}

/**
 * Typed Avro encode/decode over a Confluent-compatible registry. Producers encode with the
 * latest registered id of the topic's subject; consumers decode any writer schema the registry
 * knows by resolving it against our current reader schema, so old messages stay readable after
 * a BACKWARD-compatible change and a message written with another subject's schema is refused.
 */
export class AvroCodec {
  private readonly writerIds = new Map<SchemaTopic, number>();
  private readonly resolvers = new Map<string, avro.Resolver | DecodeError>();
  private readonly pendingWriters = new Map<number, Promise<avro.Type | DecodeError>>();

  constructor(
    readonly registry: SchemaRegistry,
    readonly prefix: string,
  ) {}

  /**
   * `caFile`: PEM of the CA that signed an https:// registry's certificate. The same agent
   * serves the registry client and the compatibility calls (registerSchema).
   */
  static connect(url: string, prefix: string, caFile?: string): AvroCodec {
    const agent = caFile ? new HttpsAgent({ ca: readFileSync(caFile), keepAlive: true }) : undefined;
    const registry = new SchemaRegistry({ host: url, retry: { retries: 2 }, ...(agent ? { agent } : {}) });
    const codec = new AvroCodec(registry, prefix);
    codec.agent = agent;
    return codec;
  }

  static fromConfig(
    c: { SCHEMA_REGISTRY_URL: string; SCHEMA_REGISTRY_CA_FILE?: string | undefined },
    prefix: string,
  ): AvroCodec {
    return AvroCodec.connect(c.SCHEMA_REGISTRY_URL, prefix, c.SCHEMA_REGISTRY_CA_FILE);
  }

  /** The TLS agent trusting the registry's CA, when one was given. */
  agent: HttpsAgent | undefined;

  /** Id used to encode values for this topic: the subject's latest version. */
  async writerId(topic: SchemaTopic): Promise<number> {
    const known = this.writerIds.get(topic);
    if (known !== undefined) return known;
    try {
      const id = await this.registry.getLatestSchemaId(valueSubject(this.prefix, topic));
      this.writerIds.set(topic, id);
      return id;
    } catch (err) {
      if (httpStatus(err) === 404) {
        throw new Error(
          `subject ${valueSubject(this.prefix, topic)} is not registered; run the schema register command`,
          { cause: err },
        );
      }
      throw new RegistryUnavailableError(`schema registry unreachable: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  async encode<T extends SchemaTopic>(topic: T, value: TopicValues[T]): Promise<Buffer> {
    const id = await this.writerId(topic);
    return this.encodeWithId(topic, id, value);
  }

  /**
   * Synchronous encode once `writerId(topic)` has been awaited: the hot path of producers. The
   * record is written after the header into the slab's free end (see SLAB_BYTES), and the
   * framed record is that part of the slab: no allocation and no copy per record, where
   * `toBuffer` and a framing copy cost two of each (a zero-filled one among them).
   */
  encodeWithId<T extends SchemaTopic>(topic: T, id: number, value: TopicValues[T]): Buffer {
    const { type } = schemaFor(topic);
    let start = slabUsed;
    let end: number;
    try {
      end = type.encode(value, slab, start + HEADER_LENGTH);
      if (end < 0) {
        // does not fit: avsc says how many bytes are missing (negated); a new slab, large
        // enough for this record if it is larger than a slab
        const length = slab.length - end - start;
        slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, length));
        start = 0;
        end = type.encode(value, slab, HEADER_LENGTH);
      }
    } catch {
      // the validating walk is only paid for on failure, to say which fields are wrong
      const paths: string[] = [];
      type.isValid(value, { errorHook: (path) => paths.push(path.join('.') || '(root)') });
      throw new EncodeError(
        `value does not match the ${topic} schema at ${paths.join(', ') || '(unknown)'}`,
        paths,
      );
    }
    slabUsed = end;
    const out = slab.subarray(start, end);
    out[0] = MAGIC_BYTE;
    out.writeInt32BE(id, 1);
    return out;
  }

  async decode<T extends SchemaTopic>(topic: T, buf: Buffer | null): Promise<TopicValues[T]> {
    const { schemaId, payload } = readFrame(buf);
    const resolver = await this.resolverFor(topic, schemaId);
    const { type } = schemaFor(topic);
    try {
      // fromBuffer also rejects trailing bytes, which catches most truncation and garbage
      return type.fromBuffer(payload, resolver) as TopicValues[T];
    } catch (err) {
      throw new DecodeError(
        'MALFORMED_PAYLOAD',
        `payload does not decode: ${(err as Error).message}`,
        schemaId,
      );
    }
  }

  /**
   * decode(), synchronously when the message's writer schema was resolved before (every message
   * after the first of each schema id): the hot path pays no promise per message. A schema id
   * not seen yet returns decode()'s promise (a registry lookup).
   */
  decodeNow<T extends SchemaTopic>(topic: T, buf: Buffer | null): TopicValues[T] | Promise<TopicValues[T]> {
    const { schemaId, payload } = readFrame(buf);
    const cached = this.resolvers.get(`${topic}:${schemaId}`);
    if (cached === undefined) return this.decode(topic, buf);
    if (cached instanceof DecodeError) throw cached;
    try {
      return schemaFor(topic).type.fromBuffer(payload, cached) as TopicValues[T];
    } catch (err) {
      throw new DecodeError(
        'MALFORMED_PAYLOAD',
        `payload does not decode: ${(err as Error).message}`,
        schemaId,
      );
    }
  }

  private async resolverFor(topic: SchemaTopic, schemaId: number): Promise<avro.Resolver> {
    const key = `${topic}:${schemaId}`;
    const cached = this.resolvers.get(key);
    if (cached instanceof DecodeError) throw cached;
    if (cached) return cached;
    const writer = await this.writerType(schemaId);
    let result: avro.Resolver | DecodeError;
    if (writer instanceof DecodeError) result = writer;
    else {
      try {
        result = schemaFor(topic).type.createResolver(writer);
      } catch (err) {
        result = new DecodeError(
          'INCOMPATIBLE_SCHEMA',
          `schema id ${schemaId} cannot be read as ${topic}: ${(err as Error).message}`,
          schemaId,
        );
      }
    }
    this.resolvers.set(key, result);
    if (result instanceof DecodeError) throw result;
    return result;
  }

  private writerType(schemaId: number): Promise<avro.Type | DecodeError> {
    let pending = this.pendingWriters.get(schemaId);
    if (!pending) {
      pending = this.fetchWriterType(schemaId);
      this.pendingWriters.set(schemaId, pending);
      // transient failures must be retried on the next message, not cached
      pending.catch(() => this.pendingWriters.delete(schemaId));
    }
    return pending;
  }

  private async fetchWriterType(schemaId: number): Promise<avro.Type | DecodeError> {
    try {
      const schema = await this.registry.getSchema(schemaId);
      // re-created in our own avsc instance so that resolvers never mix two copies of avsc
      return avro.Type.forSchema((schema as unknown as avro.Type).schema() as avro.Schema);
    } catch (err) {
      const status = httpStatus(err);
      if (status === 404) {
        return new DecodeError(
          'UNKNOWN_SCHEMA_ID',
          `schema id ${schemaId} is unknown to the registry`,
          schemaId,
        );
      }
      if (status !== undefined && status >= 400 && status < 500 && status !== 401 && status !== 403) {
        return new DecodeError(
          'UNKNOWN_SCHEMA_ID',
          `registry refused schema id ${schemaId} (${status})`,
          schemaId,
        );
      }
      throw new RegistryUnavailableError(`schema registry unreachable: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
}
