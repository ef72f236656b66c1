import type { Message, TopicMessages } from 'kafkajs';

interface Entry {
  messages: { topic: string; message: Message }[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Publishes what applied chunks produced in the order the chunks were applied. Chunks of
 * different partitions are applied concurrently; had each sent its own produce request, a later
 * state of a SKU could reach the compacted stock-level changelog before an earlier one and stay
 * there as its "latest". Here one request is in flight at a time, and whatever queues meanwhile
 * goes together as the next request (fewer, larger requests under load; no wait when idle).
 *
 * `send` retries transient failures itself. When it gives up (the processor is stopping), the
 * entries of that request and every entry queued behind it are rejected: none is acknowledged
 * out of order, and their chunks, never resolved, are redelivered.
 */
export class OrderedPublisher {
  private queue: Entry[] = [];
  private sending = false;

  constructor(
    private readonly send: (topicMessages: TopicMessages[]) => Promise<void>,
    private readonly maxRequestMessages = 10_000,
  ) {}

  /** Resolves once Kafka acknowledged these messages and every message published before them. */
  publish(messages: { topic: string; message: Message }[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ messages, resolve, reject });
      if (!this.sending) {
        this.sending = true;
        void this.run();
      }
    });
  }

  private async run(): Promise<void> {
    for (;;) {
      // cleared in the same step as the look at an empty queue: an entry published from an
      // acknowledgement callback then starts a new run, never waits in a queue no one drains
      if (this.queue.length === 0) {
        this.sending = false;
        return;
      }
      const batch: Entry[] = [];
      let count = 0;
      while (this.queue.length > 0 && (batch.length === 0 || count < this.maxRequestMessages)) {
        const entry = this.queue.shift() as Entry;
        batch.push(entry);
        count += entry.messages.length;
      }
      if (count > 0) {
        const byTopic = new Map<string, Message[]>();
        for (const entry of batch) {
          for (const { topic, message } of entry.messages) {
            const list = byTopic.get(topic);
            if (list) list.push(message);
            else byTopic.set(topic, [message]);
          }
        }
        try {
          await this.send([...byTopic].map(([topic, messages]) => ({ topic, messages })));
        } catch (err) {
          const failed = [...batch, ...this.queue];
          this.queue = [];
          this.sending = false;
          for (const entry of failed) entry.reject(err);
          return;
        }
      }
      for (const entry of batch) entry.resolve();
    }
  }
}
