/** A read command's --json output: one JSON document on stdout, nothing else there. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Exits once stdout and stderr have handed everything to the OS. Writes to a pipe are
 * asynchronous in Node: exiting right after them loses what a slow reader (`| less`, a script)
 * has not taken yet, summary line included.
 */
export async function exitWhenFlushed(code: number): Promise<never> {
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}

function flushed(stream: NodeJS.WriteStream): Promise<void> {
  if (stream.destroyed || !stream.writable) return Promise.resolve();
  // the callback of an empty write runs after every write queued before it
  return new Promise((resolve) => stream.write('', () => resolve()));
}

/** A reader that went away (`| head`) is not an error of the command: stop quietly. */
export function exitQuietlyOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(0);
      throw err;
    });
  }
}
