import { ModelAccessKeyEvent } from '../keys/domain/model-access-key.events';

/**
 * `previous_secret_revoked`: the secret a regenerate with an overlap replaced stops authenticating
 * (the overlap ended, or the key was regenerated again or deleted during it).
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
  'previous_secret_revoked',
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
 * the key's current one; while a regenerate's overlap runs, `previousHash` gives the replaced secret,
 * which the key's detach and expiry changes concern as well.
 */
export function revocationOf(
  event: ModelAccessKeyEvent,
  position: number,
  currentHash: (keyUuid: string) => string | undefined,
  previousHash: (keyUuid: string) => string | undefined = () => undefined,
): Revocation | null {
  const keyHashes = (keyUuid: string): string[] => [currentHash(keyUuid), previousHash(keyUuid)].filter((h): h is string => h !== undefined);
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
      // With an overlap the replaced secret goes on working: its record comes with the revocation.
      if (event.data.previousSecretEndsAt !== undefined) return null;
      return revoked([event.data.revokedSecretHash], 'regenerated', event.data.regeneratedAt);
    case 'ModelAccessKeyPreviousSecretRevoked':
      return revoked([event.data.revokedSecretHash], 'previous_secret_revoked', event.data.revokedAt);
    case 'ModelAccessKeyDeleted':
      return revoked([event.data.revokedSecretHash], 'deleted', event.data.deletedAt);
    case 'ModelAccessKeyExpired':
      return revoked([event.data.revokedSecretHash], 'expired', event.data.expiredAt);
    case 'ModelAccessKeyDeploymentDetached':
      return revoked(keyHashes(event.data.keyUuid), 'deployment_detached', event.data.detachedAt, event.data.deploymentName);
    case 'ModelAccessKeyExpiryChanged':
      return revoked(keyHashes(event.data.keyUuid), 'expiry_changed', event.data.changedAt);
    case 'ModelAccessKeyLimitsChanged':
      return revoked(keyHashes(event.data.keyUuid), 'limits_changed', event.data.changedAt);
    case 'ModelAccessKeyQuotaExhausted':
      return revoked(keyHashes(event.data.keyUuid), 'quota_exhausted', event.data.exhaustedAt);
    case 'ModelAccessKeyQuotaReset':
      return revoked(keyHashes(event.data.keyUuid), 'quota_reset', event.data.resetAt);
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
