import { DomainError } from '../../common/domain-error';
import { Principal } from '../../auth/principal';
import { canCreate, canManage, canSee } from './key-access.policy';
import { MAX_DEPLOYMENTS_PER_KEY, MAX_GRACE_PERIOD_SECONDS, comparableName, normalizeModels, normalizeName, normalizeNewName, sameScope } from './key-input.rules';
import { hasLimits, normalizeLimits, periodEnd, periodStart, sameLimits } from './key-limits';
import {
  AttachDeployment,
  ChangeModelAccessKeyLimits,
  CreateModelAccessKey,
  DeleteModelAccessKey,
  DetachDeployment,
  ExpireModelAccessKey,
  ImportLegacyModelAccessKey,
  RecordQuotaExhausted,
  ResetQuota,
  ModelAccessKeyCommand,
  RegenerateModelAccessKey,
  RenameModelAccessKey,
  RevokePreviousSecret,
  ScopeChangeRequest,
  UpdateModelAccessKey,
} from './model-access-key.commands';
import { ModelAccessKeyEvent } from './model-access-key.events';
import { ModelAccessKey, ModelAccessKeyState } from './model-access-key.state';

/**
 * Pure: the same command and state always give the same events or the same error.
 *
 * On an expired key (its `expires_at` reached, whether or not the scheduler recorded it yet), a
 * command whose result could never be used is refused with KEY_EXPIRED (409): regenerate (the new
 * secret would be refused at once), attach (no call can use the attachment), a changed expiry. What
 * tidies a dead key up is allowed: rename, a new description, detach and delete (delete still
 * needs the deployments detached first). On a deleted key every command is KEY_NOT_FOUND.
 */
export function decide(command: ModelAccessKeyCommand, state: ModelAccessKeyState): ModelAccessKeyEvent[] {
  switch (command.type) {
    case 'CreateModelAccessKey':
      return create(command, state);
    case 'ImportLegacyModelAccessKey':
      return importLegacy(command, state);
    case 'RenameModelAccessKey':
      return rename(command, state);
    case 'RegenerateModelAccessKey':
      return regenerate(command, state);
    case 'DeleteModelAccessKey':
      return remove(command, state);
    case 'AttachDeployment':
      return attach(command, state);
    case 'DetachDeployment':
      return detach(command, state);
    case 'UpdateModelAccessKey':
      return updateKey(command, state);
    case 'ExpireModelAccessKey':
      return expire(command, state);
    case 'RevokePreviousSecret':
      return revokePrevious(command, state);
    case 'ChangeModelAccessKeyLimits':
      return changeLimits(command, state);
    case 'RecordQuotaExhausted':
      return exhaustQuota(command, state);
    case 'ResetQuota':
      return resetQuota(command, state);
    default: {
      const unknownCommand: never = command;
      throw new Error(`Unknown command ${(unknownCommand as { type: string }).type}`);
    }
  }
}

function create(command: CreateModelAccessKey, state: ModelAccessKeyState): ModelAccessKeyEvent[] {
  if (!canCreate(command.actor)) throw new DomainError('FORBIDDEN', `role ${command.actor.role} cannot create keys`);
  if (state.status !== 'absent') throw new DomainError('KEY_ALREADY_EXISTS', `key ${command.keyUuid} already exists`);
  const models = normalizeModels(command.models);
  if (command.batchInferenceEnabled && models !== 'all') {
    throw new DomainError('BATCH_REQUIRES_ALL_MODELS', 'batch_inference_enabled is offered only with all models', {
      field: 'batch_inference_enabled',
    });
  }
  if (command.expiresAt !== null && Date.parse(command.expiresAt) <= Date.parse(command.now)) {
    throw new DomainError('EXPIRY_NOT_IN_FUTURE', 'expires_at must be in the future', { field: 'expires_at' });
  }
  const limits = command.limits === undefined ? null : normalizeLimits(command.limits);
  return [
    {
      type: 'ModelAccessKeyCreated',
      data: {
        keyUuid: command.keyUuid,
        teamId: command.actor.teamId,
        createdBy: command.actor.userId,
        name: normalizeName(command.name, command.uniqueName ? 'addressable' : 'key'),
        models,
        vpcUuid: command.vpcUuid,
        batchInferenceEnabled: command.batchInferenceEnabled,
        description: command.description,
        expiresAt: command.expiresAt,
        secretHash: command.secret.hash,
        secretPrefix: command.secret.prefix,
        createdAt: command.now,
        ...(command.uniqueName ? { uniqueName: true } : {}),
        ...(limits !== null && hasLimits(limits) ? { limits } : {}),
      },
    },
  ];
}

const LEGACY_SECRET_PREFIX = /^[\x21-\x7e]{1,16}$/;

function importLegacy(command: ImportLegacyModelAccessKey, state: ModelAccessKeyState): ModelAccessKeyEvent[] {
  if (state.status !== 'absent') throw new DomainError('KEY_ALREADY_EXISTS', `key ${command.keyUuid} already exists`);
  if (!/^[0-9a-f]{64}$/.test(command.secretHash)) {
    throw new DomainError('VALIDATION_FAILED', 'secret hash must be a SHA-256 in lowercase hex', { field: 'secret_hash' });
  }
  // What the views and the console show of the secret: printable ASCII without spaces, as the legacy
  // system's prefixes are (and ours, `mak_` plus 8, are 12). Longer would start to reveal the secret.
  if (command.secretPrefix !== null && !LEGACY_SECRET_PREFIX.test(command.secretPrefix)) {
    throw new DomainError('VALIDATION_FAILED', 'secret prefix must be 1-16 printable ASCII characters without spaces', { field: 'secret_prefix' });
  }
  if (command.createdAt !== null && !(Date.parse(command.createdAt) <= Date.parse(command.now))) {
    throw new DomainError('VALIDATION_FAILED', 'created_at must not be later than now', { field: 'created_at' });
  }
  return [
    {
      type: 'LegacyModelAccessKeyImported',
      data: {
        keyUuid: command.keyUuid,
        teamId: command.teamId,
        createdBy: command.createdBy,
        name: normalizeName(command.name),
        secretHash: command.secretHash,
        secretPrefix: command.secretPrefix,
        createdAt: command.createdAt ?? command.now,
        importedAt: command.now,
      },
    },
  ];
}

function rename(command: RenameModelAccessKey, state: ModelAccessKeyState): ModelAccessKeyEvent[] {
  const key = manageable(state, command.actor, command.keyUuid);
  refuseScopeChange(key, command.scopeChange);
  // A name held in the registry is an address in Gcore's paths, so it keeps that rule when renamed.
  const name = normalizeNewName(command.name, key.uniqueName);
  if (name === key.name) return [];
  return [{ type: 'ModelAccessKeyRenamed', data: { keyUuid: key.keyUuid, teamId: key.teamId, name, renamedAt: command.now } }];
}

/**
 * A new secret. With `gracePeriodSeconds` > 0 (our extension) the replaced secret keeps
 * authenticating until now + that many seconds; a regenerate while an earlier overlap runs ends that
 * overlap at once (its previous secret is revoked in the same append, before the new secret).
 */
function regenerate(command: RegenerateModelAccessKey, state: ModelAccessKeyState): ModelAccessKeyEvent[] {
  const key = manageable(state, command.actor, command.keyUuid);
  confirm(key, command.confirmName);
  refuseIfExpired(key, command.now, 'regenerated: a new secret would be refused at once (create a new key)');
  const grace = command.gracePeriodSeconds ?? 0;
  if (!Number.isInteger(grace) || grace < 0 || grace > MAX_GRACE_PERIOD_SECONDS) {
    throw new DomainError('VALIDATION_FAILED', `grace_period_seconds must be an integer from 0 to ${MAX_GRACE_PERIOD_SECONDS}`, {
      field: 'grace_period_seconds',
    });
  }
  const previousSecretEndsAt = grace > 0 ? new Date(Date.parse(command.now) + grace * 1000).toISOString() : undefined;
  return [
    ...endOverlap(key, command.now, 'regenerated'),
    {
      type: 'ModelAccessKeySecretRegenerated',
      data: {
        keyUuid: key.keyUuid,
        teamId: key.teamId,
        revokedSecretHash: key.secretHash,
        secretHash: command.secret.hash,
        secretPrefix: command.secret.prefix,
        regeneratedAt: command.now,
        ...(previousSecretEndsAt !== undefined ? { previousSecretEndsAt } : {}),
      },
    },
  ];
}

/** The running overlap's previous secret, revoked now (none running: no event). */
function endOverlap(key: ModelAccessKey, now: string, reason: 'overlap_ended' | 'regenerated' | 'deleted'): ModelAccessKeyEvent[] {
  const previous = key.previousSecret;
  if (previous === null) return [];
  return [
    {
      type: 'ModelAccessKeyPreviousSecretRevoked',
      data: { keyUuid: key.keyUuid, teamId: key.teamId, revokedSecretHash: previous.hash, endsAt: previous.endsAt, revokedAt: now, reason },
    },
  ];
}

/** Idempotent, like expiry: no overlap running, or its end not reached yet, gives no event. */
function revokePrevious(command: RevokePreviousSecret, state: ModelAccessKeyState): ModelAccessKeyEvent[] {
  if (state.status !== 'active') return [];
  const previous = state.key.previousSecret;
  if (previous === null || Date.parse(previous.endsAt) > Date.parse(command.now)) return [];
  return endOverlap(state.key, command.now, 'overlap_ended');
}

function remove(command: DeleteModelAccessKey, state: ModelAccessKeyState): ModelAccessKeyEvent[] {
  const key = manageable(state, command.actor, command.keyUuid);
  confirm(key, command.confirmName);
  if (key.deploymentNames.length > 0) {
    throw new DomainError(
      'KEY_ATTACHED_TO_DEPLOYMENTS',
      `key is still attached to deployments: ${key.deploymentNames.join(', ')}; detach them first`,
      { deployment_names: key.deploymentNames },
    );
  }
  return [
    ...endOverlap(key, command.now, 'deleted'),
    {
      type: 'ModelAccessKeyDeleted',
      data: { keyUuid: key.keyUuid, teamId: key.teamId, revokedSecretHash: key.secretHash, deletedAt: command.now },
    },
  ];
}

function attach(command: AttachDeployment, state: ModelAccessKeyState): ModelAccessKeyEvent[] {
  const key = manageable(state, command.actor, command.keyUuid);
  if (key.deploymentNames.includes(command.deploymentName)) return [];
  refuseIfExpired(key, command.now, 'attached to a deployment: no call could use it');
  refuseOverDeploymentLimit(key.deploymentNames.length + 1);
  return [
    {
      type: 'ModelAccessKeyDeploymentAttached',
      data: { keyUuid: key.keyUuid, teamId: key.teamId, deploymentName: command.deploymentName, attachedAt: command.now },
    },
  ];
}

function detach(command: DetachDeployment, state: ModelAccessKeyState): ModelAccessKeyEvent[] {
  const key = manageable(state, command.actor, command.keyUuid);
  if (!key.deploymentNames.includes(command.deploymentName)) {
    throw new DomainError('DEPLOYMENT_NOT_ATTACHED', `key is not attached to deployment ${command.deploymentName}`);
  }
  return [
    {
      type: 'ModelAccessKeyDeploymentDetached',
      data: { keyUuid: key.keyUuid, teamId: key.teamId, deploymentName: command.deploymentName, detachedAt: command.now },
    },
  ];
}

/** Only what differs becomes an event; all of them are appended together, or none. */
function updateKey(command: UpdateModelAccessKey, state: ModelAccessKeyState): ModelAccessKeyEvent[] {
  const key = manageable(state, command.actor, command.keyUuid);
  const base = { keyUuid: key.keyUuid, teamId: key.teamId };
  const events: ModelAccessKeyEvent[] = [];
  if (command.description !== undefined && command.description !== key.description) {
    events.push({ type: 'ModelAccessKeyDescriptionChanged', data: { ...base, description: command.description, changedAt: command.now } });
  }
  if (command.expiresAt !== undefined && command.expiresAt !== key.expiresAt) {
    if (hasExpired(key, command.now)) {
      throw new DomainError('KEY_EXPIRED', 'the key has expired; its expiry can no longer change (create a new key)', { field: 'expires_at' });
    }
    if (command.expiresAt !== null && Date.parse(command.expiresAt) <= Date.parse(command.now)) {
      throw new DomainError('EXPIRY_NOT_IN_FUTURE', 'expires_at must be in the future', { field: 'expires_at' });
    }
    events.push({
      type: 'ModelAccessKeyExpiryChanged',
      data: { ...base, expiresAt: command.expiresAt, previousExpiresAt: key.expiresAt, changedAt: command.now },
    });
  }
  if (command.deploymentNames !== undefined) {
    const wanted = new Set(command.deploymentNames);
    refuseOverDeploymentLimit(wanted.size);
    for (const deploymentName of key.deploymentNames) {
      if (!wanted.has(deploymentName)) {
        events.push({ type: 'ModelAccessKeyDeploymentDetached', data: { ...base, deploymentName, detachedAt: command.now } });
      }
    }
    for (const deploymentName of [...wanted].sort()) {
      if (!key.deploymentNames.includes(deploymentName)) {
        refuseIfExpired(key, command.now, 'attached to a deployment: no call could use it');
        events.push({ type: 'ModelAccessKeyDeploymentAttached', data: { ...base, deploymentName, attachedAt: command.now } });
      }
    }
  }
  if (command.limits !== undefined) {
    const limits = normalizeLimits(command.limits);
    if (!sameLimits(limits, key.limits)) {
      refuseIfExpired(key, command.now, 'given new limits: no call could use them');
      events.push({ type: 'ModelAccessKeyLimitsChanged', data: { ...base, limits, previousLimits: key.limits, changedAt: command.now } });
    }
  }
  return events;
}

/** Idempotent: a key that is gone, already expired or not yet due gives no event. */
function expire(command: ExpireModelAccessKey, state: ModelAccessKeyState): ModelAccessKeyEvent[] {
  if (state.status !== 'active') return [];
  const key = state.key;
  if (key.expiredAt !== null || key.expiresAt === null) return [];
  if (Date.parse(key.expiresAt) > Date.parse(command.now)) return [];
  return [
    {
      type: 'ModelAccessKeyExpired',
      data: {
        keyUuid: key.keyUuid,
        teamId: key.teamId,
        revokedSecretHash: key.secretHash,
        expiresAt: key.expiresAt,
        expiredAt: command.now,
      },
    },
  ];
}

/**
 * Limits may change, unlike scope, and on legacy keys too; the new set replaces the old one whole.
 * The same limits again give no event. On an expired key: KEY_EXPIRED (no call could use them).
 */
function changeLimits(command: ChangeModelAccessKeyLimits, state: ModelAccessKeyState): ModelAccessKeyEvent[] {
  const key = manageable(state, command.actor, command.keyUuid);
  const limits = normalizeLimits(command.limits);
  if (sameLimits(limits, key.limits)) return [];
  refuseIfExpired(key, command.now, 'given new limits: no call could use them');
  return [
    {
      type: 'ModelAccessKeyLimitsChanged',
      data: { keyUuid: key.keyUuid, teamId: key.teamId, limits, previousLimits: key.limits, changedAt: command.now },
    },
  ];
}

/**
 * Idempotent: no event for a key that is gone, has no quota, is already exhausted in this period, or
 * whose usage is under its quota, or for usage of a period that is not the current one.
 */
function exhaustQuota(command: RecordQuotaExhausted, state: ModelAccessKeyState): ModelAccessKeyEvent[] {
  if (state.status !== 'active') return [];
  const key = state.key;
  const quota = key.limits.quota;
  if (quota === null) return [];
  const nowMs = Date.parse(command.now);
  const start = new Date(periodStart(quota.period, nowMs)).toISOString();
  if (command.periodStart !== start || key.quotaExhausted?.periodStart === start) return [];
  const reached = (quota.requests !== null && command.requests >= quota.requests) || (quota.tokens !== null && command.tokens >= quota.tokens);
  if (!reached) return [];
  const end = periodEnd(quota.period, nowMs);
  return [
    {
      type: 'ModelAccessKeyQuotaExhausted',
      data: {
        keyUuid: key.keyUuid,
        teamId: key.teamId,
        periodStart: start,
        resetsAt: end === null ? null : new Date(end).toISOString(),
        requests: command.requests,
        tokens: command.tokens,
        exhaustedAt: command.now,
      },
    },
  ];
}

/** Idempotent: an event only for an exhausted quota whose reset time has come. */
function resetQuota(command: ResetQuota, state: ModelAccessKeyState): ModelAccessKeyEvent[] {
  if (state.status !== 'active') return [];
  const key = state.key;
  const exhausted = key.quotaExhausted;
  if (!exhausted || exhausted.resetsAt === null || Date.parse(exhausted.resetsAt) > Date.parse(command.now)) return [];
  return [{ type: 'ModelAccessKeyQuotaReset', data: { keyUuid: key.keyUuid, teamId: key.teamId, periodStart: exhausted.resetsAt, resetAt: command.now } }];
}

/** A key the actor may not see does not exist for them: same answer as an unknown or deleted key. */
function manageable(state: ModelAccessKeyState, actor: Principal, keyUuid: string): ModelAccessKey {
  if (state.status !== 'active' || !canSee(actor, state.key)) {
    throw new DomainError('KEY_NOT_FOUND', `key ${keyUuid} not found`);
  }
  if (!canManage(actor, state.key)) {
    throw new DomainError('FORBIDDEN', `role ${actor.role} cannot change key ${keyUuid}`);
  }
  return state.key;
}

/** At or after `expires_at`: verification already answers EXPIRED, recorded or not. */
function hasExpired(key: ModelAccessKey, now: string): boolean {
  return key.expiredAt !== null || (key.expiresAt !== null && Date.parse(key.expiresAt) <= Date.parse(now));
}

function refuseIfExpired(key: ModelAccessKey, now: string, what: string): void {
  if (hasExpired(key, now)) throw new DomainError('KEY_EXPIRED', `the key has expired and cannot be ${what}`, { expires_at: key.expiresAt });
}

function refuseOverDeploymentLimit(count: number): void {
  if (count > MAX_DEPLOYMENTS_PER_KEY) {
    throw new DomainError('DEPLOYMENT_LIMIT_REACHED', `a key is attached to at most ${MAX_DEPLOYMENTS_PER_KEY} deployments; detach one first`, {
      limit: MAX_DEPLOYMENTS_PER_KEY,
    });
  }
}

/** The typed name compares in the stored form (trimmed, NFC), so a name typed as it shows is a match. */
function confirm(key: ModelAccessKey, confirmName: string | null): void {
  if (confirmName !== null && comparableName(confirmName) !== key.name) {
    throw new DomainError('CONFIRMATION_MISMATCH', 'confirm_name does not match the key name; nothing was changed');
  }
}

function refuseScopeChange(key: ModelAccessKey, change: ScopeChangeRequest): void {
  const changed: string[] = [];
  if (change.models !== undefined && !sameScope(normalizeModels(change.models), key.models)) changed.push('models');
  if (change.vpcUuid !== undefined && change.vpcUuid !== key.vpcUuid) changed.push('vpc_uuid');
  if (change.batchInferenceEnabled !== undefined && change.batchInferenceEnabled !== key.batchInferenceEnabled) {
    changed.push('batch_inference_enabled');
  }
  if (changed.length > 0) {
    const why = key.legacy ? 'a legacy key has no editable scope' : 'scope is fixed when a key is created';
    throw new DomainError('SCOPE_IMMUTABLE', `${changed.join(', ')} cannot be changed: ${why}`, { fields: changed });
  }
}
