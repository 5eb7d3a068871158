import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger as PinoLogger } from 'pino';
import type { Principal } from '../auth/principal';
import { requestLogContext } from './logging';

const READINESS_PATH = '/readyz';

/** Where the caller's identity is kept on a request once its token is checked (BearerAuthGuard, the verify route). */
type WithPrincipal = FastifyRequest & { principal?: Principal };

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
 * Every line written while the request is served (an error, a warning) carries its request_id: the
 * request's context is bound once, when it arrives. Fastify 5 carries it across the reading of the
 * body (its content-type parser runs the rest of the request in an AsyncResource made at that point),
 * which logging.int-spec.ts checks with a body. Call before routes are added.
 */
export function logRequests(fastify: FastifyInstance, logger: PinoLogger): void {
  fastify.addHook('onRequest', (request: FastifyRequest, _reply: FastifyReply, done: () => void) => requestLogContext.run({ requestId: String(request.id) }, done));
  fastify.addHook('onResponse', (request: WithPrincipal, reply: FastifyReply, done: () => void) => {
    const status = reply.statusCode;
    // A 503 of /readyz is a state (draining, catching up), not a failure: the load balancer is told, no one need be paged.
    const level = status >= 500 && request.routeOptions?.url !== READINESS_PATH ? 'error' : 'info';
    if (logger.isLevelEnabled(level)) {
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
        },
        `${request.method} ${route ?? '(no route)'} ${status}`,
      );
    }
    done();
  });
}
