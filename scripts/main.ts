/**
 * The README's first command: the local stack, topics and schemas, then every long-running
 * part of the product as child processes (stock, order and logistics processors, lag monitor
 * and topic recorder, dashboard, demo producer). Ctrl-C stops the
 * children gracefully; the stack keeps running until `npm run stack -- down`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SUPERVISOR_PID_ENV } from '../runtime/supervisor-watch.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsx = [process.execPath, '--import', 'tsx'];

function run(cmd: string, args: string[]): void {
  const res = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (res.status !== 0) {
    console.error(`\n${cmd} ${args.join(' ')} failed (exit ${res.status}); see the messages above.`);
    process.exit(res.status ?? 1);
  }
}

run('bash', ['deploy/stack.sh', 'up']);
run(tsx[0] as string, [...tsx.slice(1), 'scripts/cli.ts', 'setup']);

// Demo defaults a reader can see happen within minutes; every one can be overridden.
const demoEnv = {
  ORDERS_PAYMENT_DEADLINE_MS: '60000',
  // velocities that follow minutes of demo traffic, and a short warning margin: predicted
  // stock-outs and replenishment suggestions show on the dashboard within minutes
  INVENTORY_VELOCITY_HALF_LIFE_MINUTES: '5',
  INVENTORY_STOCKOUT_MARGIN_HOURS: '1',
  INVENTORY_SUGGESTION_INTERVAL_MINUTES: '1',
  INVENTORY_WAREHOUSE_PREFERENCE: 'WH-NORTH',
  ORDER_SIGNING_SECRET: 'demo-signing-secret-local-only',
  ...process.env,
};
const dashboardUrl = `http://${process.env.DASHBOARD_HOST ?? '127.0.0.1'}:${process.env.DASHBOARD_PORT ?? '18080'}/`;
const demoRate = process.env.DEMO_RATE ?? '200';

/** /healthz, /readyz and /metrics of each long-running process, on ports of their own. */
const HEALTH_PORTS: Record<string, number> = {
  'stock processor': 18091,
  'order processor': 18092,
  'logistics processor': 18093,
  'lag monitor': 18094,
};

const children: ChildProcess[] = [];
function start(name: string, args: string[]): void {
  // Each child in its own process group: Ctrl-C reaches only this process, which sends each
  // child one SIGTERM. Sharing the terminal's group, a child would get SIGINT and SIGTERM and
  // take the second as "exit without waiting", skipping its graceful stop.
  const child = spawn(tsx[0] as string, [...tsx.slice(1), ...args], {
    cwd: root,
    stdio: 'inherit',
    // without a signal from here (this process killed, its terminal closed) they stop by themselves
    env: {
      ...(HEALTH_PORTS[name] ? { HEALTH_PORT: String(HEALTH_PORTS[name]) } : {}),
      ...demoEnv,
      [SUPERVISOR_PID_ENV]: String(process.pid),
    },
    detached: true,
  });
  child.on('exit', (code, signal) => {
    if (!stopping) console.error(`${name} exited (code ${code}, signal ${signal})`);
  });
  children.push(child);
}

let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  console.error('\nstopping children; the stack stays up (npm run stack -- down to stop it)');
  for (const c of children) c.kill('SIGTERM');
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
process.on('SIGHUP', stop);

start('stock processor', ['processors/inventory/main.ts']);
start('order processor', ['processors/orders/main.ts']);
start('logistics processor', ['processors/logistics/main.ts']);
start('lag monitor', ['observability/lag/main.ts']);
start('dashboard', ['observability/dashboard/main.ts']);
start('demo producer', ['scripts/cli.ts', 'demo', '--rate', demoRate]);

const metricsUrls = Object.entries(HEALTH_PORTS).map(([name, port]) => `${name} :${port}`);
console.error(`
  ecom-event-pipeline is running: stock, order and logistics processors, lag monitor, dashboard,
  and a demo producer sending ${demoRate} events/s (orders, stock receipts, carrier updates).

    dashboard        ${dashboardUrl}
    /metrics         ${metricsUrls.join(', ')}, dashboard ${dashboardUrl}metrics
    look around      npx pipeline stock show SKU-000001 | dlq list | position show | --help
    a SKU's page     ${dashboardUrl}sku.html?sku=SKU-000001
    stop             Ctrl-C (the local stack stays up; npm run stack -- down stops it)

  Below: what the processes log, one line per notable event, and each processor's summary
  (events, p50/p99 latency) every 30 s. LOG_FORMAT=json gives JSON lines instead.
`);

await Promise.all(children.map((c) => new Promise((resolve) => c.once('exit', resolve))));
