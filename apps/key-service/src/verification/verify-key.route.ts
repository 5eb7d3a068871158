import { Logger } from '@nestjs/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { OpenAPIObject } from '@nestjs/swagger';
import { CallerAuthentication, verifiedPeerCertificate } from '../auth/caller-authentication';
import type { AuthenticatedRequest } from '../auth/auth.guard';
import { DomainError } from '../common/domain-error';
import { errorBody, toErrorAnswer } from '../http/app-exception.filter';
import { Metrics } from '../observability/metrics';
import { VerificationLookup } from './verification.lookup';
import { VERIFY_CODES, VerifyCode } from './verification.rules';
import { parseVerifyKeyRequest, toVerifyResponse } from './verify-key.wire';

export const VERIFY_PATH = '/v1/keys/verify';

/**
 * POST /v1/keys/verify, the gateways' hot path, as a plain Fastify route on the service's Fastify
 * instance: NestJS's per-request pipeline (execution context, guards, pipes, interceptors) cost more
 * than the verification itself (bench:gateway). The rules are those of every other route: a gateway
 * token, input validated with the field named, the same error body and request id.
 */
export function registerVerifyRoute(fastify: FastifyInstance, lookup: VerificationLookup, authentication: CallerAuthentication, metrics: Metrics): void {
  // Label children bound once: a verdict costs a property read and an increment, no label hashing.
  // Each starts at 0, so that rate() sees the first verdict of a code.
  const decisions = Object.fromEntries(VERIFY_CODES.map((code) => [code, metrics.verifyDecisions.labels(code)])) as Record<VerifyCode, { inc(by?: number): void }>;
  for (const code of VERIFY_CODES) decisions[code].inc(0);
  const duration = metrics.verifyDuration;
  const errors = new Logger('Errors');
  fastify.route({
    method: 'POST',
    url: VERIFY_PATH,
    errorHandler: (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
      const answer = toErrorAnswer(error, errors); // an unknown error is logged, with the request id
      void reply.status(answer.status).send(errorBody(answer, String(request.id)));
    },
    handler: async (request) => {
      const started = performance.now();
      const principal = (await authentication.session(request.headers.authorization, verifiedPeerCertificate(request.raw.socket))).principal;
      (request as AuthenticatedRequest).principal = principal; // for the request's log line (team_id, user_id)
      if (principal.role !== 'gateway') throw new DomainError('FORBIDDEN', `role ${principal.role} may not call this route`);
      const { key, target } = parseVerifyKeyRequest(request.body);
      const verdict = lookup.verify(key, target);
      decisions[verdict.code].inc();
      duration.observe((performance.now() - started) / 1000);
      return toVerifyResponse(verdict);
    },
  });
}

/** The route is outside Nest's router, so its OpenAPI entry is added here, from the same DTOs. */
export function documentVerifyRoute(document: OpenAPIObject): void {
  const error = (description: string) => ({ description, content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorResponse' } } } });
  document.paths[VERIFY_PATH] = {
    post: {
      operationId: 'VerifyKey',
      summary: 'May this secret make this call? Always 200; the code says why not',
      tags: ['key verification'],
      security: [{ bearer: [] }],
      requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/VerifyKeyRequest' } } } },
      responses: {
        '200': { description: 'The verdict', content: { 'application/json': { schema: { $ref: '#/components/schemas/VerifyKeyResponse' } } } },
        '400': error('Malformed input; the message names the field'),
        '401': error('No or bad token'),
        '403': error('Not a gateway token'),
      },
    },
  };
}
