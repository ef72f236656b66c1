/**
 * `npm start` runs every process in a process group of its own (so that Ctrl-C reaches each one
 * once, as a SIGTERM from the launcher). The price: when the launcher dies without passing a
 * signal on (its terminal closed, a SIGKILL), nothing reaches them and they would run on,
 * orphaned. A process started with PIPELINE_SUPERVISOR_PID therefore checks once a second that
 * this process still exists, and stops itself as if signalled when it is gone.
 */
export const SUPERVISOR_PID_ENV = 'PIPELINE_SUPERVISOR_PID';

export function watchSupervisor(onGone: (pid: number) => void, intervalMs = 1_000): void {
  const pid = Number(process.env[SUPERVISOR_PID_ENV]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  const timer = setInterval(() => {
    try {
      // signal 0: only asks whether the process exists
      process.kill(pid, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') return;
      clearInterval(timer);
      onGone(pid);
    }
  }, intervalMs);
  timer.unref();
}
