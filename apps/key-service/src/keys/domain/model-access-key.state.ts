import { ModelAccessKeyEvent, ModelScope } from './model-access-key.events';
import { KeyLimits, NO_LIMITS } from './key-limits';

/** The secret a regenerate with an overlap replaced: it authenticates until `endsAt` (ISO-8601). */
export interface PreviousSecret {
  readonly hash: string;
  readonly prefix: string | null;
  readonly endsAt: string;
}

export interface ModelAccessKey {
  readonly keyUuid: string;
  readonly teamId: string;
  readonly createdBy: string;
  readonly name: string;
  readonly models: ModelScope;
  readonly vpcUuid: string | null;
  readonly batchInferenceEnabled: boolean;
  readonly legacy: boolean;
  /** Unique in the team and held in the name registry (keys created through the Gcore-style API). */
  readonly uniqueName: boolean;
  readonly description: string | null;
  readonly expiresAt: string | null;
  readonly secretHash: string;
  readonly secretPrefix: string | null;
  readonly deploymentNames: readonly string[];
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly deletedAt: string | null;
  /** When the expiry scheduler recorded the expiry; verification checks `expiresAt` itself as well. */
  readonly expiredAt: string | null;
  /**
   * The replaced secret while a regenerate's overlap runs; null otherwise. Folded from the stream
   * (decider, audit); the key_views row does not hold it (see key-previous-secrets.projection.ts).
   */
  readonly previousSecret: PreviousSecret | null;
  /** Rate limits and quota (issue 19); NO_LIMITS when none were set. */
  readonly limits: KeyLimits;
  /** The quota was reached in the period that began at `periodStart`; until `resetsAt` (null: no reset). */
  readonly quotaExhausted?: { readonly periodStart: string; readonly resetsAt: string | null } | null;
}

export type ModelAccessKeyState =
  | { readonly status: 'absent' }
  | { readonly status: 'active'; readonly key: ModelAccessKey }
  | { readonly status: 'deleted'; readonly key: ModelAccessKey };

export const initialState: ModelAccessKeyState = { status: 'absent' };

export function evolve(state: ModelAccessKeyState, event: ModelAccessKeyEvent): ModelAccessKeyState {
  switch (event.type) {
    case 'ModelAccessKeyCreated': {
      const d = event.data;
      return {
        status: 'active',
        key: {
          keyUuid: d.keyUuid,
          teamId: d.teamId,
          createdBy: d.createdBy,
          name: d.name,
          models: d.models,
          vpcUuid: d.vpcUuid,
          batchInferenceEnabled: d.batchInferenceEnabled,
          legacy: false,
          uniqueName: d.uniqueName === true,
          description: d.description,
          expiresAt: d.expiresAt,
          secretHash: d.secretHash,
          secretPrefix: d.secretPrefix,
          deploymentNames: [],
          createdAt: d.createdAt,
          updatedAt: d.createdAt,
          deletedAt: null,
          expiredAt: null,
          previousSecret: null,
          limits: d.limits ?? NO_LIMITS,
        },
      };
    }
    case 'LegacyModelAccessKeyImported': {
      const d = event.data;
      return {
        status: 'active',
        key: {
          keyUuid: d.keyUuid,
          teamId: d.teamId,
          createdBy: d.createdBy,
          name: d.name,
          models: 'all',
          vpcUuid: null,
          batchInferenceEnabled: false,
          legacy: true,
          uniqueName: false,
          description: null,
          expiresAt: null,
          secretHash: d.secretHash,
          secretPrefix: d.secretPrefix,
          deploymentNames: [],
          createdAt: d.createdAt,
          updatedAt: d.importedAt,
          deletedAt: null,
          expiredAt: null,
          previousSecret: null,
          limits: NO_LIMITS,
        },
      };
    }
    case 'ModelAccessKeyRenamed':
      return update(state, (key) => ({ ...key, name: event.data.name, updatedAt: event.data.renamedAt }));
    case 'ModelAccessKeySecretRegenerated':
      return update(state, (key) => ({
        ...key,
        secretHash: event.data.secretHash,
        secretPrefix: event.data.secretPrefix,
        updatedAt: event.data.regeneratedAt,
        previousSecret:
          event.data.previousSecretEndsAt === undefined
            ? null
            : { hash: event.data.revokedSecretHash, prefix: key.secretPrefix, endsAt: event.data.previousSecretEndsAt },
      }));
    case 'ModelAccessKeyPreviousSecretRevoked':
      return update(state, (key) => ({ ...key, previousSecret: null }));
    case 'ModelAccessKeyDeploymentAttached':
      return update(state, (key) => ({
        ...key,
        deploymentNames: [...key.deploymentNames, event.data.deploymentName].sort(),
        updatedAt: event.data.attachedAt,
      }));
    case 'ModelAccessKeyDeploymentDetached':
      return update(state, (key) => ({
        ...key,
        deploymentNames: key.deploymentNames.filter((name) => name !== event.data.deploymentName),
        updatedAt: event.data.detachedAt,
      }));
    case 'ModelAccessKeyDescriptionChanged':
      return update(state, (key) => ({ ...key, description: event.data.description, updatedAt: event.data.changedAt }));
    case 'ModelAccessKeyExpiryChanged':
      return update(state, (key) => ({ ...key, expiresAt: event.data.expiresAt, updatedAt: event.data.changedAt }));
    case 'ModelAccessKeyExpired':
      return update(state, (key) => ({ ...key, expiredAt: event.data.expiredAt }));
    case 'ModelAccessKeyLimitsChanged':
      // New limits are judged afresh: the next usage report exhausts the new quota if it is reached too.
      return update(state, (key) => ({ ...key, limits: event.data.limits, updatedAt: event.data.changedAt, quotaExhausted: null }));
    case 'ModelAccessKeyQuotaExhausted':
      return update(state, (key) => ({ ...key, quotaExhausted: { periodStart: event.data.periodStart, resetsAt: event.data.resetsAt } }));
    case 'ModelAccessKeyQuotaReset':
      return update(state, (key) => ({ ...key, quotaExhausted: null }));
    case 'ModelAccessKeyDeleted':
      if (state.status !== 'active') return state;
      return {
        status: 'deleted',
        key: { ...state.key, deletedAt: event.data.deletedAt, updatedAt: event.data.deletedAt, previousSecret: null },
      };
    default: {
      const unknownEvent: never = event;
      throw new Error(`Unknown event type ${(unknownEvent as { type: string }).type}`);
    }
  }
}

function update(state: ModelAccessKeyState, change: (key: ModelAccessKey) => ModelAccessKey): ModelAccessKeyState {
  return state.status === 'active' ? { status: 'active', key: change(state.key) } : state;
}

export function fold(events: readonly ModelAccessKeyEvent[], from: ModelAccessKeyState = initialState): ModelAccessKeyState {
  return events.reduce(evolve, from);
}
