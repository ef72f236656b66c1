import { createServer, type Server, type ServerResponse } from 'node:http';
import type { Logger } from './logger.js';
import { metricsRegistry } from './prometheus.js';

export interface Health {
  live: boolean;
  ready: boolean;
  detail: string;
}

/**
 * /healthz (liveness) and /readyz (readiness) for orchestrators: 200 or 503 with a one-line
 * reason; /metrics for Prometheus. Nothing else is served, and nothing about the configuration.
 */
export async function startHealthServer(port: number, health: () => Health, logger: Logger): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      serveMetrics(res);
      return;
    }
    const h = health();
    const ok = req.url === '/healthz' ? h.live : req.url === '/readyz' ? h.ready : null;
    if (ok === null) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(`${h.detail}\n`);
  });
  // a port already taken is a start-up failure, not a process crash later
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => {
      server.off('error', reject);
      resolve();
    });
  });
  logger.info({ port }, 'health and metrics endpoints listening');
  return server;
}

/** The process's Prometheus registry in the text exposition format. */
export function serveMetrics(res: ServerResponse): void {
  metricsRegistry.metrics().then(
    (text) => res.writeHead(200, { 'content-type': metricsRegistry.contentType }).end(text),
    (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
  );
}
