import { ModelAccessKeyEvent } from '../keys/domain/model-access-key.events';

/**
 * `expiry_changed` withdraws nothing by itself: it tells caches that hold an answer for the key's
 * secret to drop it, because the expiry that answer carries is no longer the key's. `limits_changed`
 * does the same for the limits an answer carries (issue 19). `quota_exhausted` and `quota_reset` make
 * caches drop their answer too: the service then answers USAGE_EXCEEDED until the reset, VALID after.
 */
export const REVOCATION_REASONS = [
  'regenerated',
  'deleted',
  'expired',
  'deployment_detached',
  'expiry_changed',
  'limits_changed',
  'quota_exhausted',
  'quota_reset',
] as const;
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

/** One event that removed access, as gateways receive it; `position` is the event's global position. */
export interface Revocation {
  readonly position: number;
  readonly key_uuid: string;
  readonly team_id: string;
  /** SHA-256 (hex) of the secrets that stop authenticating (for a detach: for that deployment only). */
  readonly secret_hashes: readonly string[];
  readonly reason: RevocationReason;
  readonly deployment_name: string | null;
  readonly occurred_at: string;
}

/**
 * The revocation an event causes, if any. A detach names no hash in its event, so the caller passes
 * the key's current one.
 */
export function revocationOf(
  event: ModelAccessKeyEvent,
  position: number,
  currentHash: (keyUuid: string) => string | undefined,
): Revocation | null {
  const revoked = (secretHashes: readonly string[], reason: RevocationReason, occurredAt: string, deploymentName: string | null = null) => ({
    position,
    key_uuid: event.data.keyUuid,
    team_id: event.data.teamId,
    secret_hashes: secretHashes,
    reason,
    deployment_name: deploymentName,
    occurred_at: occurredAt,
  });
  switch (event.type) {
    case 'ModelAccessKeySecretRegenerated':
      return revoked([event.data.revokedSecretHash], 'regenerated', event.data.regeneratedAt);
    case 'ModelAccessKeyDeleted':
      return revoked([event.data.revokedSecretHash], 'deleted', event.data.deletedAt);
    case 'ModelAccessKeyExpired':
      return revoked([event.data.revokedSecretHash], 'expired', event.data.expiredAt);
    case 'ModelAccessKeyDeploymentDetached': {
      const hash = currentHash(event.data.keyUuid);
      return revoked(hash === undefined ? [] : [hash], 'deployment_detached', event.data.detachedAt, event.data.deploymentName);
    }
    case 'ModelAccessKeyExpiryChanged': {
      const hash = currentHash(event.data.keyUuid);
      return revoked(hash === undefined ? [] : [hash], 'expiry_changed', event.data.changedAt);
    }
    case 'ModelAccessKeyLimitsChanged': {
      const hash = currentHash(event.data.keyUuid);
      return revoked(hash === undefined ? [] : [hash], 'limits_changed', event.data.changedAt);
    }
    case 'ModelAccessKeyQuotaExhausted': {
      const hash = currentHash(event.data.keyUuid);
      return revoked(hash === undefined ? [] : [hash], 'quota_exhausted', event.data.exhaustedAt);
    }
    case 'ModelAccessKeyQuotaReset': {
      const hash = currentHash(event.data.keyUuid);
      return revoked(hash === undefined ? [] : [hash], 'quota_reset', event.data.resetAt);
    }
    case 'ModelAccessKeyCreated':
    case 'LegacyModelAccessKeyImported':
    case 'ModelAccessKeyDescriptionChanged':
    case 'ModelAccessKeyRenamed':
    case 'ModelAccessKeyDeploymentAttached':
      return null;
    default: {
      const unknownEvent: never = event;
      throw new Error(`Unknown event type ${(unknownEvent as { type: string }).type}`);
    }
  }
}
