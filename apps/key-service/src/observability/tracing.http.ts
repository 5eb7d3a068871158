import { ROOT_CONTEXT, Span, SpanKind, SpanStatusCode, Tracer, context, propagation, trace } from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

const SPAN = Symbol('span');
type WithSpan = FastifyRequest & { [SPAN]?: Span };

/**
 * A SERVER span for every HTTP request, named `{method} {route template}` once the route is known, with
 * the attributes of OpenTelemetry's HTTP semantic conventions (http.request.method, http.route,
 * http.response.status_code, url.scheme, server.port, network.peer.address). No path, query or
 * header value is recorded (paths carry key names; any header may carry what a caller put there). The span's parent is the caller's
 * `traceparent`; the request is served inside it, so command and append spans are its children. A 5xx
 * or a request the client abandoned is an ERROR span. Installed only when tracing is on. Call before
 * routes are added.
 */
export function traceRequests(fastify: FastifyInstance, tracer: Tracer): void {
  fastify.addHook('onRequest', (request: WithSpan, _reply: FastifyReply, done: () => void) => {
    const parent = propagation.extract(ROOT_CONTEXT, request.headers);
    const span = tracer.startSpan(
      request.method,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': request.method,
          'url.scheme': request.protocol,
          'server.port': request.socket.localPort,
          'network.peer.address': request.socket.remoteAddress,
        },
      },
      parent,
    );
    request[SPAN] = span;
    context.with(trace.setSpan(parent, span), done);
  });
  fastify.addHook('onResponse', (request: WithSpan, reply: FastifyReply, done: () => void) => {
    const span = request[SPAN];
    if (span !== undefined) {
      request[SPAN] = undefined;
      const route = request.routeOptions?.url;
      if (route !== undefined) {
        span.updateName(`${request.method} ${route}`);
        span.setAttribute('http.route', route);
      }
      span.setAttribute('http.response.status_code', reply.statusCode);
      if (reply.statusCode >= 500) {
        span.setAttribute('error.type', String(reply.statusCode));
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
    }
    done();
  });
  fastify.addHook('onRequestAbort', (request: WithSpan, done: () => void) => {
    const span = request[SPAN];
    if (span !== undefined) {
      request[SPAN] = undefined;
      span.setAttribute('error.type', 'aborted');
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'the client closed the connection before the answer' });
      span.end();
    }
    done();
  });
}
