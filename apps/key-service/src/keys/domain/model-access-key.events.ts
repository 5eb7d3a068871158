import type { KeyLimits } from './key-limits';

/**
 * Stored event types of the model-access-key stream. A type name is stored with every event and is
 * never renamed; a changed shape becomes a new type, with the old one kept and upcast on read.
 * No event carries a secret: only its SHA-256 (hex) and a short display prefix.
 */
export type ModelScope = 'all' | readonly string[];

export interface ModelAccessKeyCreated {
  readonly type: 'ModelAccessKeyCreated';
  readonly data: {
    readonly keyUuid: string;
    readonly teamId: string;
    readonly createdBy: string;
    readonly name: string;
    readonly models: ModelScope;
    readonly vpcUuid: string | null;
    readonly batchInferenceEnabled: boolean;
    readonly description: string | null;
    readonly expiresAt: string | null;
    readonly secretHash: string;
    readonly secretPrefix: string;
    readonly createdAt: string;
    /**
     * The name is unique in the team and names the key in the Gcore-style API; such a key holds a
     * reservation in the name registry. Absent in events written before names could be unique: false.
     */
    readonly uniqueName?: boolean;
    /** The key's rate limits and quota (issue 19); absent: none (and in events written before limits existed). */
    readonly limits?: KeyLimits;
  };
}

/** A key from before scoping existed: all models, no VPC, scope never editable. */
export interface LegacyModelAccessKeyImported {
  readonly type: 'LegacyModelAccessKeyImported';
  readonly data: {
    readonly keyUuid: string;
    readonly teamId: string;
    readonly createdBy: string;
    readonly name: string;
    readonly secretHash: string;
    readonly secretPrefix: string | null;
    readonly createdAt: string;
    readonly importedAt: string;
  };
}

export interface ModelAccessKeyRenamed {
  readonly type: 'ModelAccessKeyRenamed';
  readonly data: { readonly keyUuid: string; readonly teamId: string; readonly name: string; readonly renamedAt: string };
}

export interface ModelAccessKeySecretRegenerated {
  readonly type: 'ModelAccessKeySecretRegenerated';
  readonly data: {
    readonly keyUuid: string;
    readonly teamId: string;
    /**
     * The hash this event replaces. Without `previousSecretEndsAt` it stops authenticating with this
     * event (DigitalOcean's regenerate); with it, it keeps authenticating until then.
     */
    readonly revokedSecretHash: string;
    readonly secretHash: string;
    readonly secretPrefix: string;
    readonly regeneratedAt: string;
    /**
     * Regenerate with an overlap (our extension): the instant (ISO-8601) at which the replaced secret
     * stops authenticating; the scheduler then appends ModelAccessKeyPreviousSecretRevoked. Absent in
     * events without an overlap, and in every event written before overlaps existed.
     */
    readonly previousSecretEndsAt?: string;
  };
}

/**
 * The secret replaced by a regenerate with an overlap stops authenticating: at the overlap's end
 * (`overlap_ended`, appended by the scheduler), or earlier, when the key is regenerated again
 * (`regenerated`) or deleted (`deleted`) while the overlap runs.
 */
export interface ModelAccessKeyPreviousSecretRevoked {
  readonly type: 'ModelAccessKeyPreviousSecretRevoked';
  readonly data: {
    readonly keyUuid: string;
    readonly teamId: string;
    readonly revokedSecretHash: string;
    /** The overlap's end as the regenerate set it. */
    readonly endsAt: string;
    readonly revokedAt: string;
    readonly reason: 'overlap_ended' | 'regenerated' | 'deleted';
  };
}

export interface ModelAccessKeyDeleted {
  readonly type: 'ModelAccessKeyDeleted';
  readonly data: {
    readonly keyUuid: string;
    readonly teamId: string;
    readonly revokedSecretHash: string;
    readonly deletedAt: string;
  };
}

export interface ModelAccessKeyDeploymentAttached {
  readonly type: 'ModelAccessKeyDeploymentAttached';
  readonly data: { readonly keyUuid: string; readonly teamId: string; readonly deploymentName: string; readonly attachedAt: string };
}

export interface ModelAccessKeyDeploymentDetached {
  readonly type: 'ModelAccessKeyDeploymentDetached';
  readonly data: { readonly keyUuid: string; readonly teamId: string; readonly deploymentName: string; readonly detachedAt: string };
}

export interface ModelAccessKeyDescriptionChanged {
  readonly type: 'ModelAccessKeyDescriptionChanged';
  readonly data: { readonly keyUuid: string; readonly teamId: string; readonly description: string | null; readonly changedAt: string };
}

/** A new `expires_at` (null: never), set before the key expired. */
export interface ModelAccessKeyExpiryChanged {
  readonly type: 'ModelAccessKeyExpiryChanged';
  readonly data: {
    readonly keyUuid: string;
    readonly teamId: string;
    readonly expiresAt: string | null;
    readonly previousExpiresAt: string | null;
    readonly changedAt: string;
  };
}

/** The key reached its `expires_at`: appended once by the expiry scheduler, whoever runs it. */
export interface ModelAccessKeyExpired {
  readonly type: 'ModelAccessKeyExpired';
  readonly data: {
    readonly keyUuid: string;
    readonly teamId: string;
    readonly revokedSecretHash: string;
    readonly expiresAt: string;
    readonly expiredAt: string;
  };
}

/** New limits, replacing the old ones whole (a limit left out is lifted); legacy keys too. */
export interface ModelAccessKeyLimitsChanged {
  readonly type: 'ModelAccessKeyLimitsChanged';
  readonly data: {
    readonly keyUuid: string;
    readonly teamId: string;
    readonly limits: KeyLimits;
    readonly previousLimits: KeyLimits;
    readonly changedAt: string;
  };
}

/**
 * The key's usage in its quota period reached the quota (the usage store's count, from the gateways'
 * reports): verification answers USAGE_EXCEEDED until `resetsAt` (null: period none, until the
 * limits change). Appended once per period by the service when it takes a usage report.
 */
export interface ModelAccessKeyQuotaExhausted {
  readonly type: 'ModelAccessKeyQuotaExhausted';
  readonly data: {
    readonly keyUuid: string;
    readonly teamId: string;
    readonly periodStart: string;
    readonly resetsAt: string | null;
    /** The usage counted when it was reached: requests, and input plus output tokens. */
    readonly requests: number;
    readonly tokens: number;
    readonly exhaustedAt: string;
  };
}

/** The quota period ended: the key may be used again. Appended by the quota scheduler at the reset. */
export interface ModelAccessKeyQuotaReset {
  readonly type: 'ModelAccessKeyQuotaReset';
  readonly data: { readonly keyUuid: string; readonly teamId: string; readonly periodStart: string; readonly resetAt: string };
}

export type ModelAccessKeyEvent =
  | ModelAccessKeyCreated
  | LegacyModelAccessKeyImported
  | ModelAccessKeyRenamed
  | ModelAccessKeySecretRegenerated
  | ModelAccessKeyDeleted
  | ModelAccessKeyDeploymentAttached
  | ModelAccessKeyDeploymentDetached
  | ModelAccessKeyDescriptionChanged
  | ModelAccessKeyExpiryChanged
  | ModelAccessKeyExpired
  | ModelAccessKeyPreviousSecretRevoked
  | ModelAccessKeyLimitsChanged
  | ModelAccessKeyQuotaExhausted
  | ModelAccessKeyQuotaReset;

export const MODEL_ACCESS_KEY_EVENT_TYPES: ReadonlySet<string> = new Set<ModelAccessKeyEvent['type']>([
  'ModelAccessKeyCreated',
  'LegacyModelAccessKeyImported',
  'ModelAccessKeyRenamed',
  'ModelAccessKeySecretRegenerated',
  'ModelAccessKeyDeleted',
  'ModelAccessKeyDeploymentAttached',
  'ModelAccessKeyDeploymentDetached',
  'ModelAccessKeyDescriptionChanged',
  'ModelAccessKeyExpiryChanged',
  'ModelAccessKeyExpired',
  'ModelAccessKeyPreviousSecretRevoked',
  'ModelAccessKeyLimitsChanged',
  'ModelAccessKeyQuotaExhausted',
  'ModelAccessKeyQuotaReset',
]);

export const KEY_STREAM_PREFIX = 'model_access_key-';
export const keyStreamId = (keyUuid: string): string => `${KEY_STREAM_PREFIX}${keyUuid}`;
