import { Logger } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as net from 'node:net';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppConfig } from '../config/app.config';
import { RevocationFeed } from '../revocations/revocation-feed';
import { RevocationRelay } from '../revocations/kafka/revocation-relay';
import { GrpcHealth } from './grpc-health';
import { Readiness } from './readiness';
import { stopTracing } from '../observability/tracing';

/**
 * After the drain, how long closing may take before the process exits 1 anyway: a connection that never
 * finishes (a client that stopped reading) must not hold the instance until the orchestrator's SIGKILL.
 */
const CLOSE_DEADLINE_MS = 20_000;

/**
 * After the drain, how long kept-alive HTTP connections get to close by themselves (each answer then says
 * `Connection: close`) before the idle ones left are closed: a client still sending sends within it.
 */
const CONNECTION_GRACE_MS = 1_000;

/** How long open gRPC calls may take to finish once the server stops taking new ones; then they are cancelled. */
const GRPC_CLOSE_MS = 5_000;

/**
 * SIGTERM and SIGINT stop the service in order, each phase logged:
 *  1. drain: /readyz answers 503 `draining` and gRPC health NOT_SERVING at once, while every request is
 *     still served for SHUTDOWN_DRAIN_MS, so that a load balancer takes the instance out first;
 *  2. the revocation streams (SSE, gRPC, health Watch) end with a last message;
 *  3. the HTTP and gRPC servers stop accepting and their in-flight requests finish (a request on a
 *     kept-alive connection is still answered normally, with `Connection: close`);
 *  4. the Kafka relay finishes its in-flight batch;
 *  5. app.close(): the background work stops and the stores close; the spans still buffered are sent
 *     (when tracing is on); the process exits 0.
 * This replaces Nest's enableShutdownHooks, which closed everything at once on the signal.
 */
export function shutDownOnSignals(app: NestFastifyApplication, config: AppConfig): void {
  const logger = new Logger('Shutdown');
  let started = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (started) {
      logger.warn(`${signal} again: still shutting down`);
      return;
    }
    started = true;
    const deadline = setTimeout(() => {
      logger.error(`shutdown did not finish within ${CLOSE_DEADLINE_MS} ms after the drain: exiting`);
      process.exit(1);
    }, config.shutdownDrainMs + CLOSE_DEADLINE_MS);
    deadline.unref();
    shutDown(app, config, signal, logger).then(
      () => {
        logger.log('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error(`shutdown failed: ${error instanceof Error ? error.stack : String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

async function shutDown(app: NestFastifyApplication, config: AppConfig, signal: NodeJS.Signals, logger: Logger): Promise<void> {
  const drainMs = config.shutdownDrainMs;
  logger.log(`${signal}: draining: /readyz answers 503 and gRPC health NOT_SERVING; requests are served for ${drainMs} ms more`);
  app.get(Readiness).beginDraining();
  await new Promise((resolve) => setTimeout(resolve, drainMs));

  logger.log('drain over: ending the revocation streams (SSE and gRPC) with their last message');
  app.get(RevocationFeed).endAll('shutdown');
  const grpcHealth = app.get(GrpcHealth);
  grpcHealth.endWatches();

  logger.log('closing the HTTP and gRPC servers: no new connections or calls; in-flight requests finish');
  await Promise.all([closeHttp(app), closeGrpc(grpcHealth, logger)]);
  logger.log('servers closed');

  const relay = app.get(RevocationRelay);
  if (relay.enabled) {
    logger.log('stopping the Kafka relay after its in-flight batch');
    await relay.onApplicationShutdown();
    logger.log(`Kafka relay stopped; the broker acknowledged up to position ${relay.position}`);
  }

  logger.log('stopping the background work and closing the stores');
  await app.close();
  logger.log('stores closed');
  if (config.tracing !== null) {
    await stopTracing();
    logger.log('span exporter stopped (the spans still waiting were handed to it; a failed export is logged as a warning)');
  }
}

/**
 * Fastify's close (server.close) closes idle kept-alive connections at once, and a request a client sent
 * on one just then, still unread while the event loop is busy, is reset. So first the listener alone is
 * closed (net.Server's close: no new connections), every answer says `Connection: close`, and the
 * connections get CONNECTION_GRACE_MS to end after their answer; then Fastify closes what is left and
 * waits for the requests in flight.
 */
async function closeHttp(app: NestFastifyApplication): Promise<void> {
  const fastify = app.getHttpAdapter().getInstance();
  const server = fastify.server;
  server.prependListener('request', (_request: IncomingMessage, response: ServerResponse) => {
    if (!response.headersSent) response.setHeader('connection', 'close');
  });
  const listenerClosed = new Promise<void>((resolve) => net.Server.prototype.close.call(server, () => resolve()));
  const graceOver = Date.now() + CONNECTION_GRACE_MS;
  while (Date.now() < graceOver && (await openConnections(server)) > 0) await new Promise((resolve) => setTimeout(resolve, 20));
  await fastify.close();
  await listenerClosed;
}

function openConnections(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.getConnections((error, count) => resolve(error ? 0 : count)));
}

async function closeGrpc(grpcHealth: GrpcHealth, logger: Logger): Promise<void> {
  const server = grpcHealth.server;
  if (server === null) return;
  const graceful = new Promise<boolean>((resolve) => server.tryShutdown(() => resolve(true)));
  const timeout = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), GRPC_CLOSE_MS).unref());
  if (!(await Promise.race([graceful, timeout]))) {
    logger.warn(`gRPC calls still open after ${GRPC_CLOSE_MS} ms: cancelling them`);
    server.forceShutdown();
  }
}
