import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { PinoPretty } from 'pino-pretty';

/**
 * One line per notable event; `component` says which part of the pipeline wrote it. JSON for
 * log collectors; on a terminal (or LOG_FORMAT=pretty) a readable line instead, with the same
 * fields minus the start-up configuration dump.
 */
export function createLogger(
  component: string,
  level: string = process.env.LOG_LEVEL ?? 'info',
  /** stdout for services; 2 for commands whose stdout is their output (`--json`) */
  fd: 1 | 2 = 1,
): Logger {
  const options: LoggerOptions = {
    level,
    base: { component },
    // belt and braces: even if a secret reaches a log call by mistake it is not written
    redact: {
      paths: ['password', '*.password', 'sasl.password', '*.sasl.password', 'secret', '*.secret'],
      censor: '[redacted]',
    },
  };
  const stream = fd === 1 ? process.stdout : process.stderr;
  return prettyLogs(process.env, stream.isTTY === true)
    ? pino(options, prettyStream(fd))
    : pino(options, pino.destination(fd));
}

export function prettyLogs(
  env: NodeJS.ProcessEnv = process.env,
  isTty = process.stdout.isTTY === true,
): boolean {
  const format = env.LOG_FORMAT ?? 'auto';
  return format === 'pretty' || (format === 'auto' && isTty);
}

function prettyStream(fd: 1 | 2): DestinationStream {
  return PinoPretty({
    colorize: (fd === 1 ? process.stdout : process.stderr).isTTY === true,
    destination: fd,
    translateTime: 'SYS:HH:MM:ss',
    ignore: 'pid,hostname,component,config',
    messageFormat: '{component}: {msg}',
    singleLine: true,
    // an error is its message here; its stack, when there is one, is in the JSON logs
    customPrettifiers: { err: (v: unknown) => errorMessage(v) },
    // synchronous like pino's own JSON output: nothing lost when a process exits
    sync: true,
  });
}

function errorMessage(v: unknown): string {
  if (v && typeof v === 'object' && 'message' in v) return String((v as { message: unknown }).message);
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export type { Logger };
