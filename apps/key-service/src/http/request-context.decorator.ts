import { ExecutionContext, createParamDecorator } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { RequestContext } from '../common/request-context';
import { activeTraceIds, parseTraceparent } from '../observability/tracing';

export const HttpRequestContext = createParamDecorator((_: unknown, context: ExecutionContext): RequestContext => {
  const request = context.switchToHttp().getRequest<FastifyRequest>();
  const agent = request.headers['user-agent'];
  return {
    requestId: String(request.id),
    sourceIp: request.ip ?? null,
    userAgent: typeof agent === 'string' ? agent.slice(0, 512) : null,
    trace: activeTraceIds() ?? parseTraceparent(request.headers.traceparent),
  };
});

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A header value, or null when it is absent. Node reads header bytes as Latin-1 (RFC 9110 section
 * 5.5 leaves other bytes opaque); a value whose bytes are UTF-8 is read as UTF-8, so that a name such
 * as "café" sent as UTF-8 in X-Confirm-Name is the name the key has.
 */
export const RequestHeader = createParamDecorator((name: string, context: ExecutionContext): string | null => {
  const value = context.switchToHttp().getRequest<FastifyRequest>().headers[name.toLowerCase()];
  if (typeof value !== 'string') return null;
  if (!/[\x80-\xff]/.test(value)) return value;
  try {
    return UTF8.decode(Buffer.from(value, 'latin1'));
  } catch {
    return value;
  }
});
