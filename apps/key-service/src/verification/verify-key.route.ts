import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { OpenAPIObject } from '@nestjs/swagger';
import { TokenService } from '../auth/token.service';
import { DomainError } from '../common/domain-error';
import { errorBody, toErrorAnswer } from '../http/app-exception.filter';
import { VerificationLookup } from './verification.lookup';
import { parseVerifyKeyRequest, toVerifyResponse } from './verify-key.wire';

export const VERIFY_PATH = '/v1/keys/verify';

/**
 * POST /v1/keys/verify, the gateways' hot path, as a plain Fastify route on the service's Fastify
 * instance: NestJS's per-request pipeline (execution context, guards, pipes, interceptors) cost more
 * than the verification itself (bench:gateway). The rules are those of every other route: a gateway
 * token, input validated with the field named, the same error body and request id.
 */
export function registerVerifyRoute(fastify: FastifyInstance, lookup: VerificationLookup, tokens: TokenService): void {
  fastify.route({
    method: 'POST',
    url: VERIFY_PATH,
    errorHandler: (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
      const answer = toErrorAnswer(error);
      void reply.status(answer.status).send(errorBody(answer, String(request.id)));
    },
    handler: async (request) => {
      const principal = tokens.fromAuthorizationHeader(request.headers.authorization);
      if (principal.role !== 'gateway') throw new DomainError('FORBIDDEN', `role ${principal.role} may not call this route`);
      const { key, target } = parseVerifyKeyRequest(request.body);
      return toVerifyResponse(lookup.verify(key, target));
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
