import { ModelAccessKeyEvent } from '../keys/domain/model-access-key.events';

export const REVOCATION_REASONS = ['regenerated', 'deleted', 'expired', 'deployment_detached'] as const;
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
  const base = { position, key_uuid: event.data.keyUuid, team_id: event.data.teamId, deployment_name: null };
  switch (event.type) {
    case 'ModelAccessKeySecretRegenerated':
      return { ...base, secret_hashes: [event.data.revokedSecretHash], reason: 'regenerated', occurred_at: event.data.regeneratedAt };
    case 'ModelAccessKeyDeleted':
      return { ...base, secret_hashes: [event.data.revokedSecretHash], reason: 'deleted', occurred_at: event.data.deletedAt };
    case 'ModelAccessKeyExpired':
      return { ...base, secret_hashes: [event.data.revokedSecretHash], reason: 'expired', occurred_at: event.data.expiredAt };
    case 'ModelAccessKeyDeploymentDetached': {
      const hash = currentHash(event.data.keyUuid);
      return {
        ...base,
        secret_hashes: hash === undefined ? [] : [hash],
        reason: 'deployment_detached',
        deployment_name: event.data.deploymentName,
        occurred_at: event.data.detachedAt,
      };
    }
    case 'ModelAccessKeyCreated':
    case 'LegacyModelAccessKeyImported':
    case 'ModelAccessKeyRenamed':
    case 'ModelAccessKeyDeploymentAttached':
      return null;
    default: {
      const unknownEvent: never = event;
      throw new Error(`Unknown event type ${(unknownEvent as { type: string }).type}`);
    }
  }
}
