import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { APP_CONFIG, AppConfig } from '../config/app.config';
import { Metrics } from './metrics';

export const METRICS_PATH = '/metrics';

/** The label of a request no route matched (a 404 or a router error): never the raw URL. */
const UNMATCHED_ROUTE = 'unmatched';

/**
 * Records every HTTP request by method, route template (Fastify's routeOptions.url, such as
 * `/v2/gen-ai/models/api_keys/:api_key_uuid`, never the URL itself) and status. The label children
 * are cached, so that a request costs one map lookup and one observe.
 */
export function instrumentHttp(fastify: FastifyInstance, metrics: Metrics): void {
  const children = new Map<string, { observe(seconds: number): void }>();
  fastify.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? UNMATCHED_ROUTE;
    const status = reply.statusCode;
    const id = `${request.method} ${status} ${route}`;
    let child = children.get(id);
    if (child === undefined) {
      child = metrics.httpRequestDuration.labels(request.method, route, String(status));
      children.set(id, child);
    }
    child.observe(reply.elapsedTime / 1000);
    done();
  });
}

/**
 * GET /metrics in Prometheus' text format, as a plain Fastify route: it is not part of the API, so it
 * stays out of the OpenAPI document (and of the fuzzer's reach), and it needs no token, as Prometheus
 * scrapes without one. It carries no secret and no id: counts, latencies and positions only.
 */
export function registerMetricsRoute(fastify: FastifyInstance, metrics: Metrics): void {
  fastify.route({
    method: 'GET',
    url: METRICS_PATH,
    handler: async (_request, reply) => {
      const { contentType, body } = await metrics.scrape();
      return reply.header('content-type', contentType).header('cache-control', 'no-store').send(body);
    },
  });
}

/**
 * With METRICS_PORT set, /metrics is served there (and only there) by a bare Node server on the
 * service's HOST, so that it can be kept off the port the clients reach. Anything else is a 404.
 */
@Injectable()
export class MetricsServer implements OnApplicationShutdown {
  private readonly logger = new Logger(MetricsServer.name);
  private server: http.Server | null = null;

  constructor(
    private readonly metrics: Metrics,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Listens on METRICS_PORT when it is set; resolves to the bound port (null when not set). */
  async listen(): Promise<number | null> {
    const port = this.config.metricsPort;
    if (port === null || this.server !== null) return port;
    const server = http.createServer((request, response) => {
      const path = (request.url ?? '').split('?')[0];
      if (path !== METRICS_PATH || (request.method !== 'GET' && request.method !== 'HEAD')) {
        response.writeHead(path === METRICS_PATH ? 405 : 404, { 'content-type': 'text/plain; charset=utf-8', ...(path === METRICS_PATH ? { allow: 'GET, HEAD' } : {}) });
        response.end(path === METRICS_PATH ? 'method not allowed\n' : 'not found: only /metrics is served here\n');
        return;
      }
      this.metrics.scrape().then(
        ({ contentType, body }) => {
          response.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
          response.end(request.method === 'HEAD' ? undefined : body);
        },
        (error: unknown) => {
          this.logger.error(`metrics scrape failed: ${(error as Error).message}`);
          response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
          response.end('scrape failed\n');
        },
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    const bound = (server.address() as AddressInfo).port;
    this.logger.log(`metrics on http://${this.config.host}:${bound}${METRICS_PATH}`);
    return bound;
  }

  /** The port it listens on, or null. */
  get port(): number | null {
    const address = this.server?.address();
    return address && typeof address === 'object' ? address.port : null;
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server === null) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
