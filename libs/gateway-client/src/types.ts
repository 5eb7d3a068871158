/** What the key service answers (POST /v1/keys/verify), and what the client adds when it cannot ask. */
export type VerifyCode =
  | 'VALID'
  | 'NOT_FOUND'
  | 'EXPIRED'
  | 'VPC_DENIED'
  | 'MODEL_NOT_ALLOWED'
  | 'DEPLOYMENT_NOT_ALLOWED'
  | 'BATCH_NOT_ALLOWED'
  /** The gateway's count: the key is over its requests_per_minute or tokens_per_minute; see retryAfterMs. */
  | 'RATE_LIMITED'
  /** The service's: the key's quota for the period is spent, until resetsAt. */
  | 'USAGE_EXCEEDED'
  /** Fail closed: no trustworthy cached answer and the service could not be asked. */
  | 'SERVICE_UNAVAILABLE';

export interface VerifyTarget {
  readonly model?: string;
  readonly vpcUuid?: string;
  readonly deploymentName?: string;
  readonly batch?: boolean;
}

/** A key's limits as the verify answer carries them (the service's `limits`, camelCase); null: not limited. */
export interface KeyLimits {
  readonly requestsPerMinute: number | null;
  readonly tokensPerMinute: number | null;
  readonly quota: { readonly requests: number | null; readonly tokens: number | null; readonly period: 'day' | 'month' | 'none' } | null;
}

export interface VerifyAnswer {
  readonly valid: boolean;
  readonly code: VerifyCode;
  readonly keyUuid?: string;
  readonly teamId?: string;
  readonly expiresAt?: string | null;
  /**
   * Only for the secret a regenerate with an overlap replaced: when it stops authenticating (ISO-8601).
   * A cached answer turns NOT_FOUND at that instant, even before the feed's record arrives.
   */
  readonly secretEndsAt?: string;
  /** The key's limits; absent or null: none. Cached with the answer; a limits_changed record evicts it. */
  readonly limits?: KeyLimits | null;
  /** RATE_LIMITED: ms from the answer until the key's window admits a request again. */
  readonly retryAfterMs?: number;
  /** USAGE_EXCEEDED: when the quota period resets (null: never, until the limits change). */
  readonly resetsAt?: string | null;
  /** RATE_LIMITED: which limit. */
  readonly limit?: 'requests_per_minute' | 'tokens_per_minute';
  /** cache: answered locally; service: asked the key service; fail-closed: denied without an answer. */
  readonly source: 'cache' | 'service' | 'fail-closed';
}

/** A record of the revocation feed, as the service sends it. */
export interface Revocation {
  readonly position: number;
  readonly key_uuid: string;
  readonly team_id: string;
  readonly secret_hashes: readonly string[];
  /**
   * expiry_changed, limits_changed, quota_exhausted, quota_reset: the key's secret is still valid, but a
   * cached answer (its expiry, its limits, whether its quota is spent) is stale.
   * previous_secret_revoked: the secret a regenerate with an overlap replaced stops at once.
   */
  readonly reason:
    | 'regenerated'
    | 'deleted'
    | 'expired'
    | 'deployment_detached'
    | 'expiry_changed'
    | 'limits_changed'
    | 'quota_exhausted'
    | 'quota_reset'
    | 'previous_secret_revoked';
  readonly deployment_name: string | null;
  readonly occurred_at: string;
}

/** What a feed transport reports to the client. */
export interface FeedListener {
  revocation(revocation: Revocation): void;
  /**
   * Every revocation up to `position` has been delivered; `head` is the feed's own position (on the
   * SSE feed: the checkpoint of the instance that sent it, named by `source`, its base URL).
   */
  heartbeat(position: number, head: number, source?: string): void;
  connected(connected: boolean, reason?: string): void;
  /** The service refused the feed's token or ended the feed because it expired: a new token is needed. */
  tokenRefused?(reason: string): void;
}

export interface Feed {
  /** Starts following after `position`; reconnects by itself, from where it got to, until stopped. */
  start(position: number, listener: FeedListener): Promise<void>;
  stop(): Promise<void>;
}

export interface Logger {
  log(message: string): void;
  warn(message: string): void;
}
