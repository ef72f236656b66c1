/**
 * What a failure means for the work that hit it. A transient failure (a connection dropped, a
 * broker or Redis failing over, a replica not acknowledging in time) goes away by itself: the
 * work is retried in place. A deterministic one (a script error on one event's data, a bug in
 * our code for one input) fails the same way every time: retrying it would stall the partition
 * forever, so the event is isolated and dead-lettered instead.
 */
export type ErrorClass = 'transient' | 'deterministic' | 'unknown';

/** Something outside the process is not there yet; retrying is the cure. */
export class TransientError extends Error {
  override readonly name: string = 'TransientError';
}

/** The state change was applied but not made durable as configured within the time allowed. */
export class DurabilityError extends TransientError {
  override readonly name = 'DurabilityError';
}

// Redis replies that say "not now" rather than "never"
const TRANSIENT_REDIS_REPLIES = [
  'LOADING',
  'BUSY',
  'TRYAGAIN',
  'CLUSTERDOWN',
  'MASTERDOWN',
  'READONLY',
  'NOREPLICAS',
  'NOSCRIPT',
  'MOVED',
  'ASK',
  'OOM',
  'NOAUTH',
  'WRONGPASS',
];

const TRANSIENT_MESSAGES = [
  'Connection is closed',
  "Stream isn't writeable",
  'Failed to refresh slots cache',
  'None of startup nodes is available',
  'Too many Cluster redirections',
  "Cluster isn't ready",
  'Reached the max retries per request limit',
  'fetch failed',
  'socket hang up',
  'Command timed out',
];

const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

const TRANSIENT_NAMES = new Set([
  'TransientError',
  'DurabilityError',
  'RegistryUnavailableError',
  'MaxRetriesPerRequestError',
  'ClusterAllFailedError',
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSBrokerNotFound',
  'KafkaJSLockTimeout',
  'KafkaJSTimeout',
  'AbortError',
]);

function codeOf(err: object): string | undefined {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  const cause = (err as { cause?: unknown }).cause;
  return cause && typeof cause === 'object' ? codeOf(cause) : undefined;
}

/**
 * Classifies a failure of a chunk's processing. Unknown failures are neither retried forever
 * nor dead-lettered at once: the runner retries them a few times, then isolates the event.
 */
export function classifyError(err: unknown): ErrorClass {
  if (!err || typeof err !== 'object') return 'unknown';
  const e = err as Error & { retriable?: unknown };
  if (e instanceof TransientError || TRANSIENT_NAMES.has(e.name)) return 'transient';
  const code = codeOf(e);
  if (code && TRANSIENT_CODES.has(code)) return 'transient';
  const message = typeof e.message === 'string' ? e.message : '';
  if (TRANSIENT_MESSAGES.some((m) => message.includes(m))) return 'transient';
  if (e.name === 'ReplyError') {
    const first = message.split(' ', 1)[0] ?? '';
    if (TRANSIENT_REDIS_REPLIES.includes(first)) return 'transient';
    // a script that failed on its data (WRONGTYPE, a runtime error in Lua) fails again the same way
    return 'deterministic';
  }
  if (e.name.startsWith('KafkaJS')) return e.retriable === true ? 'transient' : 'unknown';
  if (e instanceof TypeError || e instanceof RangeError || e instanceof SyntaxError) return 'deterministic';
  if (e.name === 'DeterministicError') return 'deterministic';
  return 'unknown';
}

/** The text a dead letter carries for a processing error: the message, bounded. */
export function errorText(err: unknown): string {
  const e = err as { name?: string; message?: string } | null;
  const text = e && typeof e.message === 'string' ? `${e.name ?? 'Error'}: ${e.message}` : String(err);
  return text.slice(0, 900);
}
