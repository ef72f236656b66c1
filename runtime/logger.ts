import { pino, type Logger } from 'pino';

/** One JSON line per notable event; `component` says which part of the pipeline wrote it. */
export function createLogger(component: string, level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { component },
    // belt and braces: even if a secret reaches a log call by mistake it is not written
    redact: {
      paths: ['password', '*.password', 'sasl.password', '*.sasl.password', 'secret', '*.secret'],
      censor: '[redacted]',
    },
  });
}

export type { Logger };
