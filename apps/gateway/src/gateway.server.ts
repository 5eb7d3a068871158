import Fastify, { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buffer } from 'node:stream/consumers';
import { Pool } from 'undici';
import { ClientCredentialsTokenSource, FileTokenSource, GatewayClient, Logger, RedisRateLimiter, TokenSource, VerifyAnswer } from '@lib/gateway-client';
import { callerRequestId } from '../../key-service/src/common/request-id';
import { answerOnSocket } from '../../key-service/src/http/connection-limits';
import { GatewayConfig, GatewayCredentials } from './gateway.config';
import { errorAnswer, errorToAnswer, notFoundAnswer, parseJsonBody, requestBodyProblem } from './gateway.errors';
import { GatewayMetrics } from './gateway.metrics';
import { TokenUsage, decoded, decodersFor, meteredStream, usageOf, withStreamUsage } from './gateway.usage';

/** OpenAI-style routes this gateway forwards; `batch` marks batch inference. */
const ROUTES: ReadonlyArray<{ readonly path: string; readonly batch: boolean }> = [
  { path: '/v1/chat/completions', batch: false },
  { path: '/v1/completions', batch: false },
  { path: '/v1/embeddings', batch: false },
  { path: '/v1/batches', batch: true },
];

/** The largest request body taken, bytes (413 above it). */
const BODY_LIMIT_BYTES = 10 * 1024 * 1024;

/** Headers not passed between the client and the upstream. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'content-length', 'host', 'authorization']);

export interface Gateway {
  readonly app: FastifyInstance;
  readonly client: GatewayClient;
  /** The uuid of the key a request presented, once verified (valid or not, when the service named it); null before or without. */
  keyUuidOf(request: FastifyRequest): string | null;
  close(): Promise<void>;
}

/**
 * The reference gateway: authenticates `Authorization: Bearer <secret>` with the gateway client and
 * forwards the call to the upstream. 401 for a missing, unknown or expired key, 429 with Retry-After for
 * a key over its rate limit, 403 with the code for a scope denial, 503 when the key cannot be verified
 * (fail closed), 502 when the upstream cannot be reached. Never logs a secret.
 *
 * Every error is OpenAI's shape (gateway.errors.ts): `{"error": {message, type, param, code}}`. A body
 * is refused before the key is verified: not `Content-Type: application/json` 415, not JSON or not a
 * JSON object 400, prototype poisoning 400, `stream` not a boolean or `stream_options` not an object or
 * null 400 naming the param, over 10 MiB 413; an unknown path or method 404 `unknown_url`; anything
 * unexpected 500 with a generic message.
 *
 * When tokens are counted (the key has `tokens_per_minute`, or usage reports are on), each answer's
 * OpenAI-style `usage` (`prompt_tokens`, `completion_tokens`, tokens) is charged to the key with
 * `client.recordUsage` before the answer's end reaches the client, so the key's next call sees it:
 * - a JSON answer (`application/json`) is read whole, charged, then sent;
 * - a streamed one (`text/event-stream`) is passed on chunk by chunk as it arrives and charged when
 *   the upstream ends, from the last `usage` in its events. A `"stream": true` call is sent upstream
 *   with `stream_options.include_usage: true` (even over the client's `false`), so the client also
 *   receives OpenAI's final usage chunk (`choices: []`). A client that disconnects mid-stream does not
 *   escape the charge: the upstream answer is read on to its end and its usage charged.
 * Such a call is sent upstream with `accept-encoding: identity`. An answer encoded anyway (a
 * compressing upstream or proxy: `content-encoding` gzip, x-gzip, deflate or br, or a list of them)
 * is decoded on the way with node's zlib, read for its usage, and sent to the client decoded, without
 * `content-encoding`. An encoding the gateway cannot decode goes on as it came, uncharged, with one
 * warning per answer naming the key's uuid. When tokens are not counted, the client's Accept-Encoding
 * goes upstream and the answer comes back as it is.
 * An answer without usage charges nothing but the request.
 */
export async function createGateway(config: GatewayConfig, logger: Logger): Promise<Gateway> {
  const { caFile, certFile, keyFile } = config.serviceTls;
  const tls = {
    ...(caFile !== null ? { ca: fs.readFileSync(caFile) } : {}),
    ...(certFile !== null && keyFile !== null ? { cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) } : {}),
  };
  const client = new GatewayClient({
    serviceUrls: config.serviceUrls,
    ...tokenOptions(config.credentials, logger),
    tls,
    tokenExpiryWarningMs: config.tokenExpiryWarningMs ?? undefined,
    feed: config.feed,
    maxFeedSilenceMs: config.maxFeedSilenceMs,
    validTtlMs: config.validTtlMs,
    positionFile: path.join(config.stateDir, `revocation-position-${config.feed.kind}.json`),
    logger,
    ...(config.rateLimitRedisUrl !== null ? { rateLimiter: new RedisRateLimiter({ url: config.rateLimitRedisUrl }) } : {}),
    usageReportIntervalMs: config.usageReportMs,
    gatewayId: config.gatewayId ?? undefined,
  });
  // undici's Pool takes an origin; UPSTREAM_URL's base path is prefixed to each route.
  const upstream = new Pool(new URL(config.upstreamUrl).origin, { connections: 64 });
  const reportsUsage = config.usageReportMs > 0;
  const app = Fastify({
    bodyLimit: BODY_LIMIT_BYTES,
    logger: false,
    // The caller's X-Request-Id in the request's log line when it is well formed and not secret-like, as the key service takes it.
    genReqId: (request) => callerRequestId(request.headers['x-request-id']) ?? randomUUID(),
    // A path that is not valid percent-encoded UTF-8 (/v1/%ff), before any route: OpenAI's shape too.
    frameworkErrors: (_error, _request, reply: FastifyReply) => {
      const answer = errorAnswer(400, 'invalid_request_error', 'the path is not valid percent-encoded UTF-8', 'invalid_url');
      void reply.code(answer.status).send(answer.body);
    },
    // Node's own refusals of what is not HTTP (bad framing, headers too large): OpenAI's shape, then the connection is closed.
    clientErrorHandler: (error: NodeJS.ErrnoException, socket) => {
      if (error.code === 'ECONNRESET' || socket.destroyed) return;
      const [status, reason, message] =
        error.code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'Request Header Fields Too Large', 'the request headers are too large']
          : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? [408, 'Request Timeout', 'the request did not arrive in time']
            : [400, 'Bad Request', 'the request is not valid HTTP'];
      answerOnSocket(socket, status, reason, errorAnswer(status, 'invalid_request_error', message, 'invalid_request').body);
    },
  });
  const keyUuids = new WeakMap<FastifyRequest, string>();
  // Every route takes a JSON object: no other content type is parsed (415), and errors are OpenAI's shape.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, bytes, done) => {
    try {
      done(null, parseJsonBody(bytes as Buffer));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
  app.setErrorHandler((error: Error, request, reply) => {
    const answer = errorToAnswer(error, BODY_LIMIT_BYTES);
    if (answer.status >= 500) logger.warn(`${request.method} ${request.routeOptions?.url ?? '(no route)'} failed: ${error.message}`);
    return reply.code(answer.status).send(answer.body);
  });
  app.setNotFoundHandler((request, reply) => {
    const answer = notFoundAnswer(request.method, request.url);
    return reply.code(answer.status).send(answer.body);
  });

  // Liveness: the process answers. Readiness: it can verify keys (a live token, a reachable service).
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const readiness = client.readiness();
    if (readiness.ready) return { status: 'ready', ...(readiness.warning ? { warning: readiness.warning } : {}) };
    return reply.code(503).send({ status: readiness.reason, message: readiness.message });
  });
  app.get('/gateway/status', async () => client.status());
  const metrics = new GatewayMetrics(client);
  metrics.register(app);

  for (const route of ROUTES) {
    app.post(route.path, async (request, reply) => {
      const problem = requestBodyProblem(request.body);
      if (problem !== null) return reply.code(problem.status).send(problem.body);
      const secret = bearerOf(request);
      if (secret === null) return deny(reply, 401, 'missing_api_key', 'Authorization: Bearer <key> is required');
      const model = modelOf(request.body);
      const answer = await client.verify(secret, {
        model,
        vpcUuid: config.vpcUuid ?? undefined,
        deploymentName: config.deploymentName ?? undefined,
        batch: route.batch || undefined,
      });
      if (answer.keyUuid !== undefined) keyUuids.set(request, answer.keyUuid);
      if (!answer.valid) return refuse(reply, answer);
      return forward(request, reply, route.path, answer);
    });
  }

  async function forward(request: FastifyRequest, reply: FastifyReply, routePath: string, answer: VerifyAnswer) {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (!HOP_BY_HOP.has(name) && typeof value === 'string') headers[name] = value;
    }
    if (config.upstreamApiKey) headers.authorization = `Bearer ${config.upstreamApiKey}`;
    headers['x-key-uuid'] = answer.keyUuid ?? '';
    headers['x-team-id'] = answer.teamId ?? '';
    headers['content-type'] = 'application/json';
    // Tokens are counted (usage reports, a token limit): a streamed answer must then end with its usage,
    // and the answer is asked for unencoded (a compressing upstream may answer encoded anyway: decoded below).
    const counted = answer.limits?.tokensPerMinute != null || reportsUsage;
    if (counted) headers['accept-encoding'] = 'identity';
    const body = counted ? withStreamUsage(request.body) : request.body;
    const model = modelOf(request.body);
    const started = performance.now();
    const timed = (status: string) => metrics.upstreamDuration.labels(routePath, status).observe((performance.now() - started) / 1000);
    try {
      const response = await upstream.request({
        path: `${config.upstreamBasePath}${routePath}`,
        method: 'POST',
        headers,
        body: JSON.stringify(body ?? {}),
      });
      timed(String(response.statusCode));
      reply.code(response.statusCode);
      const contentType = response.headers['content-type'];
      const metered = counted && (isEventStream(contentType) || isJson(contentType));
      // An answer read for its usage must be read decoded; an encoding that cannot be decoded goes on as it came.
      const decoders = metered ? decodersFor(response.headers['content-encoding']) : [];
      for (const [name, value] of Object.entries(response.headers)) {
        if (HOP_BY_HOP.has(name) || value === undefined) continue;
        if (name === 'content-encoding' && decoders !== null && decoders.length > 0) continue; // the client is sent the decoded bytes
        void reply.header(name, value);
      }
      if (!metered) return reply.send(response.body);
      if (decoders === null) {
        const encoding = String(response.headers['content-encoding']).slice(0, 100);
        logger.warn(`the answer to a call of key ${answer.keyUuid ?? '(none)'} has content-encoding "${encoding}", which the gateway cannot decode: passed on as it came; its usage could not be read and is not charged`);
        return reply.send(response.body);
      }
      const answerBody = decoded(response.body, decoders);
      if (isEventStream(contentType)) {
        // Passed on as it arrives and read for usage on the way; charged when the upstream has ended,
        // before the end reaches the client, and read to its end even when the client leaves early.
        const stream = meteredStream(
          answerBody,
          (usage) => charge(answer, usage, model),
          (error) => logger.warn(`upstream ${config.upstreamUrl}${routePath} failed mid-stream: ${error.message}`),
        );
        return reply.send(stream);
      }
      // A JSON answer is read whole for its usage, charged before the answer is sent, so that the key's
      // next call sees it.
      const whole = await buffer(answerBody);
      const usage = usageOf(whole);
      if (usage !== null) await client.recordUsage(answer, { ...usage, model });
      return reply.send(whole);
    } catch (error) {
      timed('error');
      logger.warn(`upstream ${config.upstreamUrl}${routePath} failed: ${(error as Error).message}`);
      return deny(reply, 502, 'upstream_unavailable', 'the upstream could not be reached');
    }
  }

  /** Charges a streamed answer's usage; a failure is logged (the key's uuid, never its secret), not thrown: the answer has been sent. */
  async function charge(answer: VerifyAnswer, usage: TokenUsage, model: string | undefined): Promise<void> {
    try {
      await client.recordUsage(answer, { ...usage, model });
    } catch (error) {
      logger.warn(`charging the usage of a streamed answer of key ${answer.keyUuid ?? '(none)'} failed: ${(error as Error).message}`);
    }
  }

  return {
    app,
    client,
    keyUuidOf: (request) => keyUuids.get(request) ?? null,
    close: async () => {
      // Answers in flight get config.shutdownGraceMs to finish; then every connection still open is cut.
      // Without the bound a client's spare connection that never sent a request (fetch opens one) held
      // the close until Node's headers timeout, about 67 s.
      const cut = setTimeout(() => {
        app.server.closeAllConnections();
        void upstream.destroy();
      }, config.shutdownGraceMs);
      try {
        await app.close();
        await client.stop();
        if (!upstream.destroyed) await upstream.close();
      } finally {
        clearTimeout(cut);
      }
    },
  };
}

/**
 * GATEWAY_TOKEN as it is; a file or the client credentials grant as a source the client reads on every
 * call. The identity provider's certificate is checked against the system's CAs (NODE_EXTRA_CA_CERTS
 * adds one), not KEY_SERVICE_TLS_CA_FILE: it is another server.
 */
function tokenOptions(credentials: GatewayCredentials, logger: Logger): { token?: string; tokenSource?: TokenSource } {
  switch (credentials.kind) {
    case 'token':
      return { token: credentials.token };
    case 'token-file':
      return { tokenSource: new FileTokenSource(credentials.file, logger) };
    case 'client-credentials':
      return {
        tokenSource: new ClientCredentialsTokenSource({
          tokenUrl: credentials.tokenUrl,
          clientId: credentials.clientId,
          clientSecret: credentials.clientSecret,
          scope: credentials.scope ?? undefined,
          audience: credentials.audience ?? undefined,
          logger,
        }),
      };
    case 'none':
      return {};
  }
}

function bearerOf(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return null;
  const match = /^Bearer\s+(\S{1,512})$/i.exec(header.trim());
  return match ? match[1] : null;
}

function modelOf(body: unknown): string | undefined {
  if (body && typeof body === 'object' && typeof (body as { model?: unknown }).model === 'string') {
    return (body as { model: string }).model;
  }
  return undefined;
}

function isJson(contentType: string | string[] | undefined): boolean {
  return typeof contentType === 'string' && /^application\/json\b/i.test(contentType);
}

function isEventStream(contentType: string | string[] | undefined): boolean {
  return typeof contentType === 'string' && /^text\/event-stream\b/i.test(contentType);
}

function refuse(reply: FastifyReply, answer: VerifyAnswer) {
  switch (answer.code) {
    case 'RATE_LIMITED': {
      // Retry-After in whole seconds (RFC 9110, 10.2.3), rounded up so that a retry then is admitted.
      const seconds = Math.max(1, Math.ceil((answer.retryAfterMs ?? 1000) / 1000));
      void reply.header('retry-after', String(seconds));
      return deny(reply, 429, 'rate_limit_exceeded', `the API key is over its ${answer.limit ?? 'rate limit'}; retry after ${seconds} s`, answer.code);
    }
    case 'USAGE_EXCEEDED': {
      // Until the quota period resets; a quota that never resets gives no Retry-After.
      const resetsAt = answer.resetsAt ? Date.parse(answer.resetsAt) : Number.NaN;
      if (!Number.isNaN(resetsAt)) void reply.header('retry-after', String(Math.max(1, Math.ceil((resetsAt - Date.now()) / 1000))));
      return deny(reply, 429, 'insufficient_quota', `the API key has used its quota${answer.resetsAt ? ` until ${answer.resetsAt}` : ''}`, answer.code);
    }
    case 'NOT_FOUND':
      return deny(reply, 401, 'invalid_api_key', 'the API key is not valid', answer.code);
    case 'EXPIRED':
      return deny(reply, 401, 'expired_api_key', 'the API key has expired', answer.code);
    case 'SERVICE_UNAVAILABLE':
      return deny(reply, 503, 'key_service_unavailable', 'the API key cannot be verified right now', answer.code);
    default:
      return deny(reply, 403, answer.code.toLowerCase(), `the API key may not make this call: ${answer.code}`, answer.code);
  }
}

function deny(reply: FastifyReply, status: number, type: string, message: string, code?: string) {
  return reply.code(status).send(errorAnswer(status, type, message, code ?? type).body);
}
