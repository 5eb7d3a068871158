import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { HttpLimitsConfig } from '../config/app.config';

/**
 * Fastify's options for the slow and stalled clients: a request must arrive whole within the request
 * timeout and its headers within the headers timeout, else it is answered 408 and its connection
 * closed. Node checks the timeouts every connectionsCheckingInterval (30 s unless given), so a
 * deadline is met within a second of it, or a fraction of a short one.
 */
export function connectionTimeouts(limits: HttpLimitsConfig, rejected: RejectedRequests = {}) {
  return {
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    http: {
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
    },
    clientErrorHandler: (error: NodeJS.ErrnoException, socket: Socket) => answerClientError(error, socket, rejected),
  };
}

/**
 * Where requests answered before any route ran are reported (a log line and a metric; set once the
 * logger and metrics exist): Node's client errors here, the router's in http-app.ts.
 */
export interface RejectedRequests {
  report?: (status: number, requestId: string, reason: string) => void;
}

/**
 * Caps the open connections below the process's open-file limit, so that stalled clients can never
 * take the descriptors the stores and the gRPC port need: one connection over the cap is closed at once.
 */
export function capConnections(server: Server, limits: HttpLimitsConfig, logger = new Logger('Http')): number {
  const cap = limits.maxConnections ?? defaultMaxConnections(openFileLimit());
  server.maxConnections = cap;
  let lastWarned = 0;
  server.on('drop', () => {
    const now = Date.now();
    if (now - lastWarned < 10_000) return;
    lastWarned = now;
    logger.warn(`refused HTTP connections: ${cap} are open (HTTP_MAX_CONNECTIONS)`);
  });
  return cap;
}

/** Descriptors kept for the process itself: its SQLite files and their journals, gRPC, logs, workers. */
const RESERVED_DESCRIPTORS = 256;
const DEFAULT_MAX_CONNECTIONS = 10_000;

export function defaultMaxConnections(fileLimit: number | null): number {
  if (fileLimit === null) return DEFAULT_MAX_CONNECTIONS;
  return Math.max(64, Math.min(DEFAULT_MAX_CONNECTIONS, fileLimit - RESERVED_DESCRIPTORS));
}

/**
 * The soft open-file limit (Node raises it to the hard limit at start), from /proc on Linux; null where
 * it cannot be read or is unlimited.
 */
function openFileLimit(): number | null {
  try {
    const line = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    return soft !== undefined && /^\d+$/.test(soft) ? Number(soft) : null;
  } catch {
    return null;
  }
}

/**
 * Node's client errors (a timeout, headers too large, an unparsable request), answered in the service's
 * error shape where nothing of a response was sent yet, then the connection closed.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Socket, rejected: RejectedRequests): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, reason, id, message] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'Request Timeout', 'request_timeout', 'the request did not arrive in time (HTTP_REQUEST_TIMEOUT_MS, HTTP_HEADERS_TIMEOUT_MS)']
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large', 'request_header_fields_too_large', 'the request headers are too large']
        : [400, 'Bad Request', 'bad_request', 'the request is not valid HTTP'];
  const requestId = randomUUID();
  rejected.report?.(status, requestId, id);
  answerOnSocket(socket, status, reason, { id, message, request_id: requestId, code: id.toUpperCase() });
}

/**
 * Answers on a raw socket, for what Node refuses before any request exists (the key service's and the
 * gateway's client errors): `status reason` with `body` as JSON and `Connection: close`, unless an
 * answer already began; then the socket is destroyed.
 */
export function answerOnSocket(socket: Socket, status: number, reason: string, body: unknown): void {
  const inFlight = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    const text = JSON.stringify(body);
    socket.write(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
  }
  socket.destroy();
}
