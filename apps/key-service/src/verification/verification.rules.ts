import { ModelAccessKey } from '../keys/domain/model-access-key.state';
import { KeyLimitsWire, hasLimits, limitsToWire } from '../keys/domain/key-limits';

export const VERIFY_CODES = [
  'VALID',
  'NOT_FOUND',
  'EXPIRED',
  'VPC_DENIED',
  'MODEL_NOT_ALLOWED',
  'DEPLOYMENT_NOT_ALLOWED',
  'BATCH_NOT_ALLOWED',
  'USAGE_EXCEEDED',
] as const;
export type VerifyCode = (typeof VERIFY_CODES)[number];

/** What one live secret allows, shaped for the hot path: sets, and the expiry as a number. */
export interface KeyGrant {
  readonly keyUuid: string;
  readonly teamId: string;
  /** null: every model. */
  readonly models: ReadonlySet<string> | null;
  readonly vpcUuid: string | null;
  readonly batchInferenceEnabled: boolean;
  readonly deploymentNames: ReadonlySet<string>;
  readonly expiresAt: string | null;
  readonly expiresAtMs: number;
  /** The expiry scheduler recorded the expiry. */
  readonly expired: boolean;
  /**
   * Only on the grant of the secret a regenerate with an overlap replaced: when that secret stops
   * authenticating (ISO-8601, and as epoch milliseconds), even before the scheduler records it.
   */
  readonly secretEndsAt?: string;
  readonly secretEndsAtMs?: number;
  /** The key's limits in the wire shape, for the gateways to enforce (issue 19); null: none. */
  readonly limits: KeyLimitsWire | null;
  /** While the quota is spent: until when (ms; +Infinity: period none); null: not spent. */
  readonly quotaExhaustedUntilMs: number | null;
  /** The same as ISO 8601 (null for period none), for the answer's resets_at. */
  readonly quotaResetsAt: string | null;
}

export interface VerifyTarget {
  readonly model?: string;
  readonly vpcUuid?: string;
  readonly deploymentName?: string;
  readonly batch?: boolean;
}

export function grantOf(key: ModelAccessKey): KeyGrant {
  return {
    keyUuid: key.keyUuid,
    teamId: key.teamId,
    models: key.models === 'all' ? null : new Set(key.models),
    vpcUuid: key.vpcUuid,
    batchInferenceEnabled: key.batchInferenceEnabled,
    deploymentNames: new Set(key.deploymentNames),
    expiresAt: key.expiresAt,
    expiresAtMs: key.expiresAt === null ? Number.POSITIVE_INFINITY : Date.parse(key.expiresAt),
    expired: key.expiredAt !== null,
    limits: hasLimits(key.limits) ? limitsToWire(key.limits) : null,
    ...quotaOf(key.quotaExhausted ?? null),
  };
}

/** What a spent quota means for the hot path. */
export function quotaOf(exhausted: { readonly resetsAt: string | null } | null): Pick<KeyGrant, 'quotaExhaustedUntilMs' | 'quotaResetsAt'> {
  if (exhausted === null) return { quotaExhaustedUntilMs: null, quotaResetsAt: null };
  return {
    quotaExhaustedUntilMs: exhausted.resetsAt === null ? Number.POSITIVE_INFINITY : Date.parse(exhausted.resetsAt),
    quotaResetsAt: exhausted.resetsAt,
  };
}

/**
 * The verification rules, in the order a denial is reported:
 * - an unknown secret (never issued, replaced by a regenerate, or of a deleted key): NOT_FOUND; so is
 *   a secret a regenerate with an overlap replaced, from the overlap's end;
 * - at and after `expires_at` (whether or not the scheduler has recorded it yet): EXPIRED;
 * - a key restricted to a VPC: only calls that present that `vpc_uuid`;
 * - a key scoped to models: only those, so a call that names no model is refused;
 * - `deployment_name` present means a call to a dedicated deployment: only the key's attached
 *   deployments (a call with none is serverless inference, governed by the model scope alone);
 * - `batch: true`: only keys with batch inference enabled;
 * - a key whose quota is spent: USAGE_EXCEEDED until the period resets (checked against the time, before
 *   the scheduler records the reset).
 */
export function judge(grant: KeyGrant | undefined, target: VerifyTarget, nowMs: number): VerifyCode {
  if (grant === undefined) return 'NOT_FOUND';
  if (grant.secretEndsAtMs !== undefined && nowMs >= grant.secretEndsAtMs) return 'NOT_FOUND';
  if (grant.expired || nowMs >= grant.expiresAtMs) return 'EXPIRED';
  if (grant.vpcUuid !== null && target.vpcUuid !== grant.vpcUuid) return 'VPC_DENIED';
  if (grant.models !== null && (target.model === undefined || !grant.models.has(target.model))) return 'MODEL_NOT_ALLOWED';
  if (target.deploymentName !== undefined && !grant.deploymentNames.has(target.deploymentName)) return 'DEPLOYMENT_NOT_ALLOWED';
  if (target.batch === true && !grant.batchInferenceEnabled) return 'BATCH_NOT_ALLOWED';
  if (grant.quotaExhaustedUntilMs !== null && nowMs < grant.quotaExhaustedUntilMs) return 'USAGE_EXCEEDED';
  return 'VALID';
}
