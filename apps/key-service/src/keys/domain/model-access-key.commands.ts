import { Principal } from '../../auth/principal';
import { ModelScope } from './model-access-key.events';
import { KeyLimits } from './key-limits';

/** A freshly generated secret as the domain sees it: never the plaintext. */
export interface SecretDigest {
  readonly hash: string;
  readonly prefix: string;
}

export interface CreateModelAccessKey {
  readonly type: 'CreateModelAccessKey';
  readonly keyUuid: string;
  readonly actor: Principal;
  readonly name: string;
  readonly models: ModelScope;
  readonly vpcUuid: string | null;
  readonly batchInferenceEnabled: boolean;
  readonly description: string | null;
  readonly expiresAt: string | null;
  readonly secret: SecretDigest;
  readonly now: string;
  /** The caller reserved the name in the registry first (the Gcore-style API). */
  readonly uniqueName?: boolean;
  /** Absent: no limits. */
  readonly limits?: KeyLimits;
}

export interface ImportLegacyModelAccessKey {
  readonly type: 'ImportLegacyModelAccessKey';
  readonly keyUuid: string;
  readonly teamId: string;
  readonly createdBy: string;
  readonly name: string;
  readonly secretHash: string;
  readonly secretPrefix: string | null;
  readonly createdAt: string | null;
  readonly now: string;
}

/** What a caller asked to change about the scope; any real change is refused (scope is immutable). */
export interface ScopeChangeRequest {
  readonly models?: ModelScope;
  readonly vpcUuid?: string | null;
  readonly batchInferenceEnabled?: boolean;
}

export interface RenameModelAccessKey {
  readonly type: 'RenameModelAccessKey';
  readonly keyUuid: string;
  readonly actor: Principal;
  readonly name: string;
  readonly scopeChange: ScopeChangeRequest;
  readonly now: string;
}

export interface RegenerateModelAccessKey {
  readonly type: 'RegenerateModelAccessKey';
  readonly keyUuid: string;
  readonly actor: Principal;
  readonly confirmName: string | null;
  readonly secret: SecretDigest;
  readonly now: string;
  /** 0 or absent: the old secret stops at once (DigitalOcean's behaviour); up to 604800 (7 days). */
  readonly gracePeriodSeconds?: number;
}

export interface DeleteModelAccessKey {
  readonly type: 'DeleteModelAccessKey';
  readonly keyUuid: string;
  readonly actor: Principal;
  readonly confirmName: string | null;
  readonly now: string;
}

export interface AttachDeployment {
  readonly type: 'AttachDeployment';
  readonly keyUuid: string;
  readonly actor: Principal;
  readonly deploymentName: string;
  readonly now: string;
}

export interface DetachDeployment {
  readonly type: 'DetachDeployment';
  readonly keyUuid: string;
  readonly actor: Principal;
  readonly deploymentName: string;
  readonly now: string;
}

/**
 * The Gcore-style PATCH: each field given is the new value; `deploymentNames` is the whole new set,
 * so the key is attached to what is added and detached from what is left out.
 */
export interface UpdateModelAccessKey {
  readonly type: 'UpdateModelAccessKey';
  readonly keyUuid: string;
  readonly actor: Principal;
  readonly description?: string | null;
  readonly expiresAt?: string | null;
  readonly deploymentNames?: readonly string[];
  /** Our field alongside Gcore's: the whole new set of limits, as PUT .../limits takes it. */
  readonly limits?: KeyLimits;
  readonly now: string;
}

/** Issued by the expiry scheduler, not by a caller: no actor, no permission check. */
export interface ExpireModelAccessKey {
  readonly type: 'ExpireModelAccessKey';
  readonly keyUuid: string;
  readonly now: string;
}

/** Issued by the scheduler at an overlap's end: no actor, no permission check. */
export interface RevokePreviousSecret {
  readonly type: 'RevokePreviousSecret';
  readonly keyUuid: string;
  readonly now: string;
}

/** PUT .../limits: the whole new set of limits (NO_LIMITS lifts them all). */
export interface ChangeModelAccessKeyLimits {
  readonly type: 'ChangeModelAccessKeyLimits';
  readonly keyUuid: string;
  readonly actor: Principal;
  readonly limits: KeyLimits;
  readonly now: string;
}

/**
 * Issued by the service when a usage report brings the key's period usage to its quota (no actor):
 * `requests` and `tokens` are the period's usage from `periodStart` on.
 */
export interface RecordQuotaExhausted {
  readonly type: 'RecordQuotaExhausted';
  readonly keyUuid: string;
  readonly periodStart: string;
  readonly requests: number;
  readonly tokens: number;
  readonly now: string;
}

/** Issued by the quota scheduler: ends an exhausted quota whose period has reset. */
export interface ResetQuota {
  readonly type: 'ResetQuota';
  readonly keyUuid: string;
  readonly now: string;
}

export type ModelAccessKeyCommand =
  | CreateModelAccessKey
  | ImportLegacyModelAccessKey
  | RenameModelAccessKey
  | RegenerateModelAccessKey
  | DeleteModelAccessKey
  | AttachDeployment
  | DetachDeployment
  | UpdateModelAccessKey
  | ExpireModelAccessKey
  | RevokePreviousSecret
  | ChangeModelAccessKeyLimits
  | RecordQuotaExhausted
  | ResetQuota;
