import type { FastifyInstance, HTTPMethods } from 'fastify';
import { errorBody } from './app-exception.filter';

/** The order methods are listed in `Allow`; any other method a route declares follows. */
const METHOD_ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/**
 * A known path asked with a method it does not serve answers 405 with `Allow` (RFC 9110, 15.5.6), not
 * 404: for every route, Nest's, the plain Fastify verify route and the OpenAPI pages alike. The
 * methods in use are collected as routes are added; a request Fastify's router did not match is then
 * looked up again with each of them (Fastify's `findRoute`, the router's own matching). Call this
 * before any route is registered.
 */
export function answerMethodNotAllowed(fastify: FastifyInstance): void {
  const methods = new Set<string>();
  fastify.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) methods.add(method.toUpperCase());
  });
  const order = (method: string) => (METHOD_ORDER.includes(method) ? METHOD_ORDER.indexOf(method) : METHOD_ORDER.length);
  // onRequest runs for unmatched requests too, before any body is read: the 405 does not wait for one.
  // Callback style, not async: the hook runs for every request, and an async hook costs each one a promise.
  fastify.addHook('onRequest', (request, reply, done) => {
    if (!request.is404) return done();
    const allowed = [...methods]
      .filter((method) => fastify.findRoute({ method: method as HTTPMethods, url: request.url }) !== null)
      .sort((a, b) => order(a) - order(b) || a.localeCompare(b));
    if (allowed.length === 0) return done();
    const answer = {
      status: 405,
      code: 'METHOD_NOT_ALLOWED',
      message: `${request.method} is not allowed on this path; it allows ${allowed.join(', ')}`,
    };
    void reply.code(405).header('allow', allowed.join(', ')).send(errorBody(answer, String(request.id))); // answered: done is not called
  });
}
