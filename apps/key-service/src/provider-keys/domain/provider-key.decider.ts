import { Principal } from '../../auth/principal';
import { DomainError } from '../../common/domain-error';
import { canCreate, canManage, canSee } from '../../keys/domain/key-access.policy';
import { normalizeName } from '../../keys/domain/key-input.rules';
import { LinkAgent, ProviderKeyCommand, UnlinkAgent } from './provider-key.commands';
import { Provider, ProviderKeyEvent } from './provider-key.events';
import { ProviderKey, ProviderKeyState } from './provider-key.state';

/** Pure: the same command and state always give the same events or the same error. */
export function decideProviderKey(command: ProviderKeyCommand, state: ProviderKeyState): ProviderKeyEvent[] {
  switch (command.type) {
    case 'AddProviderKey': {
      if (!canCreate(command.actor)) throw new DomainError('FORBIDDEN', `role ${command.actor.role} cannot add provider keys`);
      if (state.status !== 'absent') throw new DomainError('KEY_ALREADY_EXISTS', `provider key ${command.keyUuid} already exists`);
      const { keyUuid, actor, provider, name, sealedSecret, models, now } = command;
      return [
        {
          type: 'ProviderKeyAdded',
          data: { keyUuid, teamId: actor.teamId, provider, name, createdBy: actor.userId, sealedSecret, models, createdAt: now },
        },
      ];
    }
    case 'UpdateProviderKey': {
      const key = manageable(state, command.actor, command.keyUuid, command.provider);
      const events: ProviderKeyEvent[] = [];
      if (command.name !== undefined && command.name !== key.name) {
        events.push({ type: 'ProviderKeyRenamed', data: { keyUuid: key.keyUuid, teamId: key.teamId, name: command.name, renamedAt: command.now } });
      }
      if (command.secret !== undefined) {
        events.push({
          type: 'ProviderKeySecretReplaced',
          data: {
            keyUuid: key.keyUuid,
            teamId: key.teamId,
            sealedSecret: command.secret.sealedSecret,
            replacedDataKeyId: key.sealedSecret.dataKeyId,
            models: command.secret.models,
            replacedAt: command.now,
          },
        });
      }
      return events;
    }
    case 'DeleteProviderKey': {
      const key = manageable(state, command.actor, command.keyUuid, command.provider);
      if (command.confirmName !== null && command.confirmName !== key.name) {
        throw new DomainError('CONFIRMATION_MISMATCH', 'confirm_name does not match the key name; nothing was changed');
      }
      return [
        { type: 'ProviderKeyDeleted', data: { keyUuid: key.keyUuid, teamId: key.teamId, dataKeyId: key.sealedSecret.dataKeyId, deletedAt: command.now } },
      ];
    }
    case 'RecordSecretRead': {
      const { actor } = command;
      if (actor.role !== 'service') throw new DomainError('FORBIDDEN', 'only role service may read a provider key');
      if (state.status !== 'active' || state.key.teamId !== actor.teamId) {
        throw new DomainError('KEY_NOT_FOUND', `provider key ${command.keyUuid} not found`);
      }
      const { agentUuid } = command;
      if (agentUuid !== undefined && !state.key.agents.some((a) => a.agentUuid === agentUuid)) {
        throw new DomainError('AGENT_NOT_LINKED', `agent ${agentUuid} is not linked to provider key ${command.keyUuid}`, { field: 'agent_uuid' });
      }
      return [
        {
          type: 'ProviderKeySecretRead',
          data: { keyUuid: state.key.keyUuid, teamId: state.key.teamId, readBy: actor.userId, readAt: command.now, ...(agentUuid !== undefined ? { agentUuid } : {}) },
        },
      ];
    }
    case 'LinkAgent':
      return link(command, state);
    case 'UnlinkAgent':
      return unlink(command, state);
    default: {
      const unknownCommand: never = command;
      throw new Error(`Unknown command ${(unknownCommand as { type: string }).type}`);
    }
  }
}

/**
 * Linking is idempotent: the same agent with the same name (or no name) again gives no event; with
 * another name, an event that records it.
 */
function link(command: LinkAgent, state: ProviderKeyState): ProviderKeyEvent[] {
  const key = agentPlatformKey(state, command.actor, command.keyUuid, command.provider);
  const known = key.agents.find((a) => a.agentUuid === command.agentUuid);
  // The rule of a model access key's name (INVALID_NAME otherwise), stored trimmed and in NFC; null removes it.
  const name = command.agentName === undefined || command.agentName === null ? command.agentName : normalizeName(command.agentName);
  if (known && (name === undefined || name === known.name)) return [];
  return [
    {
      type: 'ProviderKeyAgentLinked',
      data: {
        keyUuid: key.keyUuid,
        teamId: key.teamId,
        agentUuid: command.agentUuid,
        agentName: name === undefined ? (known?.name ?? null) : name,
        linkedBy: command.actor.userId,
        linkedAt: command.now,
      },
    },
  ];
}

function unlink(command: UnlinkAgent, state: ProviderKeyState): ProviderKeyEvent[] {
  const key = agentPlatformKey(state, command.actor, command.keyUuid, command.provider);
  if (!key.agents.some((a) => a.agentUuid === command.agentUuid)) {
    throw new DomainError('AGENT_NOT_LINKED', `agent ${command.agentUuid} is not linked to ${command.provider} key ${command.keyUuid}`);
  }
  return [
    {
      type: 'ProviderKeyAgentUnlinked',
      data: { keyUuid: key.keyUuid, teamId: key.teamId, agentUuid: command.agentUuid, unlinkedBy: command.actor.userId, unlinkedAt: command.now },
    },
  ];
}

/** Only the agent platform links agents: role `service`, of the key's team; other teams' keys do not exist for it. */
function agentPlatformKey(state: ProviderKeyState, actor: Principal, keyUuid: string, provider: Provider): ProviderKey {
  if (actor.role !== 'service') throw new DomainError('FORBIDDEN', `role ${actor.role} cannot link or unlink agents; the agent platform (role service) does`);
  if (state.status !== 'active' || state.key.provider !== provider || state.key.teamId !== actor.teamId) {
    throw new DomainError('KEY_NOT_FOUND', `${provider} key ${keyUuid} not found`);
  }
  return state.key;
}

/** Provider keys have no legacy kind: owners manage the team's, members the ones they added. */
function manageable(state: ProviderKeyState, actor: Principal, keyUuid: string, provider: Provider): ProviderKey {
  if (state.status !== 'active' || state.key.provider !== provider || !canSee(actor, { ...state.key, legacy: false })) {
    throw new DomainError('KEY_NOT_FOUND', `${provider} key ${keyUuid} not found`);
  }
  if (!canManage(actor, { ...state.key, legacy: false })) throw new DomainError('FORBIDDEN', `role ${actor.role} cannot change key ${keyUuid}`);
  return state.key;
}
