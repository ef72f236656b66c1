import type { Kafka, Message } from 'kafkajs';
import { createProducer } from '../../runtime/kafka.js';
import type { AvroCodec } from '../../schemas/codec.js';
import { orderEvent } from '../../schemas/factories.js';
import type { OrderEvent, ProductUpdate, StockEvent, TopicValues } from '../../schemas/types.js';

export function order(fields: Parameters<typeof orderEvent>[0]): OrderEvent {
  return orderEvent(fields);
}

export function stock(eventId: string, sku: string, type: StockEvent['type'], quantity: number): StockEvent {
  return { eventId, sku, type, quantity, occurredAt: Date.now(), reason: null, warehouseId: null };
}

export function product(sku: string, threshold = 0, safety = 0, version = 1): ProductUpdate {
  return {
    sku,
    version,
    name: sku,
    category: 'test',
    lowStockThreshold: threshold,
    safetyStock: safety,
    active: true,
    updatedAt: Date.now(),
  };
}

/** Produces typed values (encoded through the registry) and raw messages, in batches. */
export class TestProducer {
  private readonly producer;
  constructor(
    kafka: Kafka,
    private readonly codec: AvroCodec,
    private readonly prefix: string,
  ) {
    this.producer = createProducer(kafka);
  }

  async connect(): Promise<void> {
    await this.producer.connect();
  }

  async send<T extends keyof TopicValues>(
    topic: T,
    items: { key: string; value: TopicValues[T] }[],
  ): Promise<void> {
    const id = await this.codec.writerId(topic);
    for (let i = 0; i < items.length; i += 1000) {
      const messages: Message[] = items.slice(i, i + 1000).map((it) => ({
        key: it.key,
        value: this.codec.encodeWithId(topic, id, it.value),
      }));
      await this.producer.send({ topic: this.prefix + topic, messages, acks: -1 });
    }
  }

  async sendRaw(topic: string, messages: Message[]): Promise<void> {
    await this.producer.send({ topic: this.prefix + topic, messages, acks: -1 });
  }

  async disconnect(): Promise<void> {
    await this.producer.disconnect();
  }
}
