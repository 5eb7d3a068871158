import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger as PinoLogger } from 'pino';
import type { Principal } from '../auth/principal';
import { requestLogContext } from './logging';

const READINESS_PATH = '/readyz';

/** Where the caller's identity is kept on a request once its token is checked (BearerAuthGuard, the verify route). */
type WithPrincipal = FastifyRequest & { principal?: Principal };

/**
 * The status a request's line shows when its client left before the whole answer was sent (a streamed
 * answer it stopped reading, a slow one it gave up on): nginx's 499 "client closed request". No answer
 * carries it; it is for the logs, apart from every status a client can receive.
 */
export const CLIENT_CLOSED_REQUEST = 499;

export interface RequestLogOptions {
  /**
   * More fields for a request's line, read when it is written (the gateway's `key_uuid`). Never a
   * header, a body or a secret.
   */
  readonly fields?: (request: FastifyRequest) => Readonly<Record<string, unknown>>;
}

/**
 * One line per HTTP request, written when the answer has been sent:
 *
 *   {"level":"info","time":"...Z","request_id":"...","method":"POST","route":"/v2/gen-ai/models/api_keys",
 *    "status":200,"duration_ms":4.21,"team_id":"team-1","user_id":"100","msg":"POST /v2/gen-ai/models/api_keys 200"}
 *
 * The route is the template Fastify matched (`/v2/gen-ai/models/api_keys/:api_key_uuid`), never the raw
 * URL: paths carry key names, query strings may carry anything. No header and no body is logged (the
 * verify body carries a secret). team_id and user_id are there once the bearer token was accepted.
 *
 * A request whose client left before its answer was sent whole is one line too, when the connection
 * closes, with status 499 (CLIENT_CLOSED_REQUEST) and the time until then: Fastify's onResponse runs
 * only for an answer that finished, and onRequestAbort only for a client that left before its request
 * was read whole, so the answer's `close` is watched.
 *
 * Every line written while the request is served (an error, a warning) carries its request_id: the
 * request's context is bound once, when it arrives. Fastify 5 carries it across the reading of the
 * body (its content-type parser runs the rest of the request in an AsyncResource made at that point),
 * which logging.int-spec.ts checks with a body. Call before routes are added.
 */
export function logRequests(fastify: FastifyInstance, logger: PinoLogger, options: RequestLogOptions = {}): void {
  const logged = new WeakSet<FastifyRequest>();
  const write = (request: WithPrincipal, reply: FastifyReply, status: number) => {
    if (logged.has(request)) return;
    logged.add(request);
    // A 503 of /readyz is a state (draining, catching up), not a failure: the load balancer is told, no one need be paged.
    const level = status >= 500 && request.routeOptions?.url !== READINESS_PATH ? 'error' : 'info';
    if (!logger.isLevelEnabled(level)) return;
    const route = request.routeOptions?.url ?? null;
    const principal = request.principal;
    logger[level](
      {
        request_id: String(request.id),
        method: request.method,
        route,
        status,
        duration_ms: Math.round(reply.elapsedTime * 1000) / 1000,
        ...(principal ? { team_id: principal.teamId, user_id: principal.userId } : {}),
        ...options.fields?.(request),
      },
      `${request.method} ${route ?? '(no route)'} ${status}`,
    );
  };
  fastify.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) write(request, reply, CLIENT_CLOSED_REQUEST);
    });
    requestLogContext.run({ requestId: String(request.id) }, done);
  });
  fastify.addHook('onResponse', (request: WithPrincipal, reply: FastifyReply, done: () => void) => {
    write(request, reply, reply.statusCode);
    done();
  });
}
