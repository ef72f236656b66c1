import { createServer, type Server } from 'node:http';
import type { Logger } from './logger.js';

export interface Health {
  live: boolean;
  ready: boolean;
  detail: string;
}

/**
 * /healthz (liveness) and /readyz (readiness) for orchestrators: 200 or 503 with a one-line
 * reason. Nothing else is served, and nothing about the configuration.
 */
export function startHealthServer(port: number, health: () => Health, logger: Logger): Server {
  const server = createServer((req, res) => {
    const h = health();
    const ok = req.url === '/healthz' ? h.live : req.url === '/readyz' ? h.ready : null;
    if (ok === null) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(`${h.detail}\n`);
  });
  server.listen(port, () => logger.info({ port }, 'health endpoints listening'));
  return server;
}
