import { ExecutionContext, createParamDecorator } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { RequestContext } from '../common/request-context';

export const HttpRequestContext = createParamDecorator((_: unknown, context: ExecutionContext): RequestContext => {
  const request = context.switchToHttp().getRequest<FastifyRequest>();
  const agent = request.headers['user-agent'];
  return { requestId: String(request.id), sourceIp: request.ip ?? null, userAgent: typeof agent === 'string' ? agent.slice(0, 512) : null };
});

/** A header value, or null when it is absent. */
export const RequestHeader = createParamDecorator((name: string, context: ExecutionContext): string | null => {
  const value = context.switchToHttp().getRequest<FastifyRequest>().headers[name.toLowerCase()];
  return typeof value === 'string' ? value : null;
});
