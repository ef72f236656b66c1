import type { IHeaders, Message } from 'kafkajs';

export interface InputMessage {
  topic: string;
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  /** Kafka record timestamp (ms): the producer's event time or the broker's append time. */
  timestamp: number;
  headers: IHeaders;
}

export interface DeadLetter {
  message: InputMessage;
  /** A stable code operators group by, e.g. NOT_CONFLUENT_FRAMED, UNKNOWN_SKU. */
  reason: string;
  detail: string;
}

export const DLQ_HEADERS = {
  reason: 'dlq.reason',
  detail: 'dlq.detail',
  topic: 'dlq.original.topic',
  partition: 'dlq.original.partition',
  offset: 'dlq.original.offset',
  timestamp: 'dlq.original.timestamp',
  processor: 'dlq.processor',
  at: 'dlq.at',
} as const;

/**
 * The dead-letter record keeps the original key and bytes untouched (so it can be redriven as
 * it was) and says why and where from in headers. Original headers are kept too.
 */
export function deadLetterRecord(dl: DeadLetter, processor: string, now: number): Message {
  const m = dl.message;
  return {
    key: m.key,
    value: m.value,
    headers: {
      ...m.headers,
      [DLQ_HEADERS.reason]: dl.reason,
      [DLQ_HEADERS.detail]: dl.detail.slice(0, 1000),
      [DLQ_HEADERS.topic]: m.topic,
      [DLQ_HEADERS.partition]: String(m.partition),
      [DLQ_HEADERS.offset]: String(m.offset),
      [DLQ_HEADERS.timestamp]: String(m.timestamp),
      [DLQ_HEADERS.processor]: processor,
      [DLQ_HEADERS.at]: String(now),
    },
  };
}
