/**
 * Serves the web page (the Vite build of apps/web) and its runtime configuration (/config.json).
 * Further HTTP APIs (the focus's admin API) are mounted as route handlers.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@conclave/log';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.wav': 'audio/wav',
  '.woff2': 'font/woff2',
};

/** Handles a request under a path prefix; returns false to let the next handler try. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

export interface WebServerOptions {
  host: string;
  port: number;
  /** Directory of the built page (index.html and assets). */
  root: string;
  /** Served as /config.json so the page knows where to connect. */
  pageConfig: Record<string, unknown>;
  routes?: RouteHandler[];
  logger: Logger;
}

export class WebServer {
  readonly #opts: WebServerOptions;
  readonly #server: Server;
  readonly #root: string;

  constructor(options: WebServerOptions) {
    this.#opts = options;
    this.#root = resolve(options.root);
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((err: Error) => {
        options.logger.error('http handler failed', { url: req.url, error: err.message });
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end('internal error');
      });
    });
  }

  async start(): Promise<{ host: string; port: number }> {
    if (!existsSync(join(this.#root, 'index.html'))) {
      this.#opts.logger.warn('web page is not built; run `pnpm --filter @conclave/web build`', { root: this.#root });
    }
    await new Promise<void>((ok, fail) => {
      this.#server.once('error', fail);
      this.#server.listen(this.#opts.port, this.#opts.host, () => ok());
    });
    const a = this.#server.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  close(): Promise<void> {
    return new Promise((ok) => {
      this.#server.closeAllConnections();
      this.#server.close(() => ok());
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    for (const route of this.#opts.routes ?? []) {
      if (await route(req, res)) return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    if (url.pathname === '/config.json') {
      res.writeHead(200, { 'Content-Type': CONTENT_TYPES['.json']!, 'Cache-Control': 'no-store' });
      res.end(JSON.stringify(this.#opts.pageConfig));
      return;
    }
    // Static file, or the SPA's index.html for client-side routes such as /admin.
    const path = normalize(join(this.#root, decodeURIComponent(url.pathname)));
    const inside = path === this.#root || path.startsWith(this.#root + sep);
    const file = inside && existsSync(path) && statSync(path).isFile() ? path : join(this.#root, 'index.html');
    if (!existsSync(file)) {
      res.writeHead(503, { 'Content-Type': 'text/plain' }).end('The web page is not built yet.');
      return;
    }
    const immutable = file.includes(`${sep}assets${sep}`);
    res.writeHead(200, {
      'Content-Type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
      'Cache-Control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      'X-Content-Type-Options': 'nosniff',
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  }
}
