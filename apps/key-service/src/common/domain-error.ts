/**
 * Stable codes the domain and the application layer throw; transports map each to a status
 * (HTTP: http-exception.filter.ts, gRPC: the same filter's rpc branch) with an exhaustive switch.
 */
export type ErrorCode =
  | 'VALIDATION_FAILED'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'KEY_NOT_FOUND'
  | 'KEY_ALREADY_EXISTS'
  | 'DEPLOYMENT_NOT_ATTACHED'
  | 'KEY_ATTACHED_TO_DEPLOYMENTS'
  | 'CONCURRENCY_CONFLICT'
  | 'IDEMPOTENCY_IN_PROGRESS'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'CONFIRMATION_MISMATCH'
  | 'SCOPE_IMMUTABLE'
  | 'BATCH_REQUIRES_ALL_MODELS'
  | 'EXPIRY_NOT_IN_FUTURE'
  | 'INVALID_NAME'
  | 'INVALID_MODELS'
  | 'NAME_TAKEN'
  | 'KEY_EXPIRED'
  | 'DEPLOYMENT_LIMIT_REACHED'
  | 'NAME_CONTAINS_KEY'
  | 'NAME_NOT_ADDRESSABLE'
  | 'PROJECT_NOT_FOUND'
  | 'AGENT_NOT_LINKED'
  | 'PROVIDER_KEY_REJECTED'
  | 'PROVIDER_UNREACHABLE'
  | 'USAGE_MINUTE_IN_FUTURE'
  | 'USAGE_MINUTE_TOO_OLD'
  | 'USAGE_BATCH_CONFLICT'
  | 'USAGE_MINUTE_INVALID'
  | 'USAGE_RANGE_TOO_LONG'
  | 'STORE_UNAVAILABLE';

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Readonly<Record<string, unknown>>,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}
