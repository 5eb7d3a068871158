import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { Metadata, status as GrpcStatus } from '@grpc/grpc-js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { throwError } from 'rxjs';
import { ConcurrencyError, StoreUnavailableError, storageFaultOf } from '@lib/event-store';
import { DomainError, ErrorCode } from '../common/domain-error';

export function statusOf(code: ErrorCode): number {
  switch (code) {
    case 'VALIDATION_FAILED':
    case 'INVALID_NAME':
    case 'INVALID_MODELS':
      return 400;
    case 'UNAUTHENTICATED':
      return 401;
    case 'FORBIDDEN':
      return 403;
    case 'KEY_NOT_FOUND':
    case 'DEPLOYMENT_NOT_ATTACHED':
    case 'PROJECT_NOT_FOUND':
    case 'AGENT_NOT_LINKED':
      return 404;
    case 'KEY_ALREADY_EXISTS':
    case 'KEY_ATTACHED_TO_DEPLOYMENTS':
    case 'CONCURRENCY_CONFLICT':
    case 'IDEMPOTENCY_IN_PROGRESS':
    case 'NAME_TAKEN':
    case 'KEY_EXPIRED':
    case 'DEPLOYMENT_LIMIT_REACHED':
    case 'USAGE_BATCH_CONFLICT':
      return 409;
    case 'CONFIRMATION_MISMATCH':
      return 412;
    case 'SCOPE_IMMUTABLE':
    case 'BATCH_REQUIRES_ALL_MODELS':
    case 'EXPIRY_NOT_IN_FUTURE':
    case 'IDEMPOTENCY_KEY_REUSED':
    case 'NAME_CONTAINS_KEY':
    case 'NAME_NOT_ADDRESSABLE':
    case 'PROVIDER_KEY_REJECTED':
    case 'USAGE_MINUTE_IN_FUTURE':
    case 'USAGE_MINUTE_TOO_OLD':
    case 'USAGE_MINUTE_INVALID':
    case 'USAGE_RANGE_TOO_LONG':
      return 422;
    case 'PROVIDER_UNREACHABLE':
      return 502;
    case 'STORE_UNAVAILABLE':
      return 503;
    default: {
      const unknownCode: never = code;
      throw new Error(`Unmapped error code ${unknownCode as string}`);
    }
  }
}

const STATUS_IDS: Readonly<Record<number, string>> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  412: 'precondition_failed',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  422: 'unprocessable_entity',
  429: 'too_many_requests',
  500: 'server_error',
  502: 'bad_gateway',
  503: 'service_unavailable',
};

export const GRPC_CODES: Readonly<Record<number, GrpcStatus>> = {
  400: GrpcStatus.INVALID_ARGUMENT,
  401: GrpcStatus.UNAUTHENTICATED,
  403: GrpcStatus.PERMISSION_DENIED,
  404: GrpcStatus.NOT_FOUND,
  409: GrpcStatus.ABORTED,
  412: GrpcStatus.FAILED_PRECONDITION,
  422: GrpcStatus.FAILED_PRECONDITION,
  502: GrpcStatus.UNAVAILABLE,
  503: GrpcStatus.UNAVAILABLE,
};

/**
 * Fastify's 415 (a body without a content type, or of another type: JSON is the only one parsed) says
 * only "Unsupported Media Type"; Nest hands it on as an HttpException. Say what is expected.
 */
const JSON_BODY_EXPECTED = 'a request body must be JSON, sent with Content-Type: application/json';

export interface ErrorAnswer {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

/** Any thrown value to what a caller is told. Unknown errors say nothing of their cause. */
export function toErrorAnswer(exception: unknown, logger?: Logger): ErrorAnswer {
  if (exception instanceof DomainError) {
    return { status: statusOf(exception.code), code: exception.code, message: exception.message, details: exception.details };
  }
  if (exception instanceof ConcurrencyError) {
    return { status: 409, code: 'CONCURRENCY_CONFLICT', message: 'the key was changed concurrently; retry the request' };
  }
  if (exception instanceof HttpException) {
    const body = exception.getResponse();
    const message = typeof body === 'object' && body && 'message' in body ? String((body as { message: unknown }).message) : exception.message;
    const status = exception.getStatus();
    // Nest's router answers an unknown path with "Cannot GET /the/path?and=query": the path and query may
    // hold anything a caller pasted (a secret), so the answer names the method only.
    const routeless = status === 404 && /^Cannot [A-Z]+ /.test(message);
    const shown = status === 415 ? JSON_BODY_EXPECTED : routeless ? `no route for ${message.split(' ')[1]} at this path` : message;
    return { status, code: STATUS_IDS[status]?.toUpperCase() ?? 'HTTP_ERROR', message: shown };
  }
  // A write that could not be made durable (a full disk, an I/O error), from any store or file: retryable.
  const fault = exception instanceof StoreUnavailableError ? exception.reason : storageFaultOf(exception);
  if (fault !== null) {
    const message = exception instanceof StoreUnavailableError ? exception.message : `the service cannot store this now: ${fault}`;
    return { status: statusOf('STORE_UNAVAILABLE'), code: 'STORE_UNAVAILABLE', message: `${message}; retry later`, details: { reason: fault } };
  }
  const statusCode = (exception as { statusCode?: unknown })?.statusCode;
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    // Fastify's own errors (malformed JSON, body too large, unsupported media type): their messages name no secret.
    const message = statusCode === 415 ? JSON_BODY_EXPECTED : (exception as Error).message;
    return { status: statusCode, code: STATUS_IDS[statusCode]?.toUpperCase() ?? 'BAD_REQUEST', message };
  }
  logger?.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
  return { status: 500, code: 'SERVER_ERROR', message: 'internal error' };
}

export function errorBody(answer: ErrorAnswer, requestId: string) {
  return {
    id: STATUS_IDS[answer.status] ?? 'error',
    message: answer.message,
    request_id: requestId,
    code: answer.code,
    ...(answer.details ? { details: answer.details } : {}),
  };
}

/** Told of every answer STORE_UNAVAILABLE, with its reason (see StorageHealth: /readyz). */
export type StorageFaultListener = (reason: string) => void;

/** One mapping for both transports: HTTP answers {id, message, request_id}; gRPC a status code. */
@Catch()
export class AppExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');
  private lastFaultLogged = 0;

  constructor(private readonly onStorageFault: StorageFaultListener = () => undefined) {}

  catch(exception: unknown, host: ArgumentsHost) {
    const answer = toErrorAnswer(exception, this.logger);
    if (answer.code === 'STORE_UNAVAILABLE') this.storageFault(String(answer.details?.reason));
    if (host.getType() === 'rpc') {
      const metadata = new Metadata();
      metadata.set('error-code', answer.code);
      return throwError(() => ({ code: GRPC_CODES[answer.status] ?? GrpcStatus.UNKNOWN, details: answer.message, message: answer.message, metadata }));
    }
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    if (answer.code === 'STORE_UNAVAILABLE') void reply.header('retry-after', String(STORE_RETRY_AFTER_SECONDS));
    void reply.status(answer.status).send(errorBody(answer, String(request.id)));
  }

  /** One line a second at most: a full disk fails every write, and the log may be on that disk too. */
  private storageFault(reason: string): void {
    this.onStorageFault(reason);
    const now = Date.now();
    if (now - this.lastFaultLogged < 1000) return;
    this.lastFaultLogged = now;
    this.logger.error(`a write could not be stored (${reason}): answering 503 STORE_UNAVAILABLE`);
  }
}

/** What a client is told to wait before retrying a write the store could not take. */
const STORE_RETRY_AFTER_SECONDS = 5;
