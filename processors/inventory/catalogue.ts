import type { Admin, Consumer, Kafka, Producer } from 'kafkajs';
import { deadLetterRecord, type DeadLetter, type InputMessage } from '../../runtime/dead-letter.js';
import { classifyError, errorText } from '../../runtime/errors.js';
import type { Logger } from '../../runtime/logger.js';
import { DecodeError, type AvroCodec } from '../../schemas/codec.js';
import { validateProductUpdate, type CatalogueCommand, type ValidationLimits } from './commands.js';
import type { StockStore } from './store.js';

export interface CatalogueTopics {
  catalogue: string;
  deadLetter: string;
}

/**
 * Every instance reads the whole compacted catalogue topic (a global table, as in Kafka
 * Streams) before it consumes stock and orders, then keeps tailing it. Applying an update is
 * idempotent (last writer wins by version), so instances may all apply the same records.
 */
export class CatalogueTable {
  private consumer: Consumer | null = null;
  private admin: Admin | null = null;
  private readonly known = new Set<string>();
  private readonly consumed = new Map<number, number>();
  private lastCatchUp = 0;

  constructor(
    private readonly kafka: Kafka,
    private readonly producer: Producer,
    private readonly store: StockStore,
    private readonly codec: AvroCodec,
    private readonly topics: CatalogueTopics,
    private readonly groupPrefix: string,
    private readonly limits: ValidationLimits,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    this.admin = this.kafka.admin();
    await this.admin.connect();
    // a group of its own per process start: it reads every partition from the beginning
    const groupId = `${this.groupPrefix}.catalogue.${process.pid}.${Date.now().toString(36)}`;
    this.consumer = this.kafka.consumer({ groupId, sessionTimeout: 30_000 });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topics.catalogue, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, heartbeat }) => {
        const messages: InputMessage[] = batch.messages.map((m) => ({
          topic: batch.topic,
          partition: batch.partition,
          offset: Number(m.offset),
          key: m.key,
          value: m.value,
          timestamp: Number(m.timestamp),
          headers: m.headers ?? {},
        }));
        for (let i = 0; i < messages.length; i += 500) {
          await this.applyChunk(messages.slice(i, i + 500));
          await heartbeat();
        }
        const last = batch.messages[batch.messages.length - 1];
        if (last) this.consumed.set(batch.partition, Number(last.offset));
      },
    });
  }

  /**
   * Applies a chunk of catalogue records. The alerts an update causes are queued in Redis by the
   * same script call and published by the changelog drainer, so nothing is lost between the two.
   * A chunk that fails deterministically is applied record by record, and the record that
   * fails is dead-lettered (PROCESSING_ERROR) instead of stopping the table.
   */
  private async applyChunk(messages: InputMessage[]): Promise<void> {
    const now = Date.now();
    const commands: { command: CatalogueCommand; message: InputMessage }[] = [];
    const dead: DeadLetter[] = [];
    for (const m of messages) {
      if (m.value === null) continue; // compaction tombstone: the SKU's reference data was deleted
      try {
        const update = await this.codec.decode('catalogue', m.value);
        const verdict = validateProductUpdate(update, now, this.limits);
        if (!verdict.ok) dead.push({ message: m, reason: verdict.reason, detail: verdict.detail });
        else if (verdict.command) commands.push({ command: verdict.command, message: m });
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err;
        dead.push({ message: m, reason: err.kind, detail: err.message });
      }
    }
    try {
      await this.store.applyCatalogue(commands.map((c) => c.command));
    } catch (err) {
      if (classifyError(err) !== 'deterministic') throw err;
      for (const { command, message } of commands) {
        try {
          await this.store.applyCatalogue([command]);
        } catch (one) {
          if (classifyError(one) !== 'deterministic') throw one;
          dead.push({ message, reason: 'PROCESSING_ERROR', detail: errorText(one) });
        }
      }
    }
    for (const { command } of commands) this.known.add(command.sku);
    if (dead.length) {
      await this.producer.send({
        topic: this.topics.deadLetter,
        messages: dead.map((d) => deadLetterRecord(d, 'inventory-catalogue', now)),
        acks: -1,
      });
    }
  }

  isKnown(sku: string): boolean {
    return this.known.has(sku);
  }

  /** Waits until everything on the catalogue topic right now has been applied. */
  async catchUp(timeoutMs: number): Promise<boolean> {
    if (!this.admin) throw new Error('catalogue table not started');
    const deadline = Date.now() + timeoutMs;
    const ends = await this.admin.fetchTopicOffsets(this.topics.catalogue);
    for (;;) {
      const behind = ends.some((p) => {
        const high = Number(p.high);
        const low = Number(p.low);
        return high > low && (this.consumed.get(p.partition) ?? -1) < high - 1;
      });
      if (!behind) {
        this.lastCatchUp = Date.now();
        return true;
      }
      if (Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Before stock or order events for a SKU we have not seen are applied, give the catalogue a
   * moment to catch up: a new product's reference data may be just behind its first receipt.
   * What is still unknown afterwards is dead-lettered by the script as UNKNOWN_SKU.
   */
  async ensureKnown(skus: Iterable<string>): Promise<void> {
    for (const sku of skus) {
      if (this.known.has(sku)) continue;
      if (Date.now() - this.lastCatchUp < 1_000) return;
      await this.catchUp(2_000);
      return;
    }
  }

  get size(): number {
    return this.known.size;
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
    await this.admin?.disconnect();
    this.consumer = null;
    this.admin = null;
  }
}
