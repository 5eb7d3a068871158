import { SealedSecret } from '../../crypto/envelope';
import { Provider, ProviderKeyEvent } from './provider-key.events';

/** An agent linked to the key, as the key's stream knows it. Times are ISO-8601. */
export interface LinkedAgent {
  readonly agentUuid: string;
  readonly name: string | null;
  readonly linkedBy: string;
  readonly linkedAt: string;
  /** The last plaintext read made for this agent; null before the first. */
  readonly lastUsedAt: string | null;
}

export interface ProviderKey {
  readonly keyUuid: string;
  readonly teamId: string;
  readonly provider: Provider;
  readonly name: string;
  readonly createdBy: string;
  readonly sealedSecret: SealedSecret;
  readonly models: readonly string[] | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly deletedAt: string | null;
  /** The agents linked now, in the order they were first linked. Not in provider_key_views (see provider-key-agents.projection.ts). */
  readonly agents: readonly LinkedAgent[];
}

export type ProviderKeyState =
  | { readonly status: 'absent' }
  | { readonly status: 'active'; readonly key: ProviderKey }
  | { readonly status: 'deleted'; readonly key: ProviderKey };

export const initialProviderKeyState: ProviderKeyState = { status: 'absent' };

export function evolveProviderKey(state: ProviderKeyState, event: ProviderKeyEvent): ProviderKeyState {
  switch (event.type) {
    case 'ProviderKeyAdded': {
      const d = event.data;
      return {
        status: 'active',
        key: {
          keyUuid: d.keyUuid,
          teamId: d.teamId,
          provider: d.provider,
          name: d.name,
          createdBy: d.createdBy,
          sealedSecret: d.sealedSecret,
          models: d.models,
          createdAt: d.createdAt,
          updatedAt: d.createdAt,
          deletedAt: null,
          agents: [],
        },
      };
    }
    case 'ProviderKeyRenamed':
      return update(state, (key) => ({ ...key, name: event.data.name, updatedAt: event.data.renamedAt }));
    case 'ProviderKeySecretReplaced':
      return update(state, (key) => ({ ...key, sealedSecret: event.data.sealedSecret, models: event.data.models, updatedAt: event.data.replacedAt }));
    case 'ProviderKeySecretRead': {
      const { agentUuid, readAt } = event.data;
      if (agentUuid === undefined) return state;
      return update(state, (key) => ({ ...key, agents: key.agents.map((a) => (a.agentUuid === agentUuid ? { ...a, lastUsedAt: readAt } : a)) }));
    }
    case 'ProviderKeyAgentLinked': {
      const d = event.data;
      return update(state, (key) => {
        const known = key.agents.find((a) => a.agentUuid === d.agentUuid);
        if (known) return { ...key, agents: key.agents.map((a) => (a === known ? { ...a, name: d.agentName } : a)) };
        return { ...key, agents: [...key.agents, { agentUuid: d.agentUuid, name: d.agentName, linkedBy: d.linkedBy, linkedAt: d.linkedAt, lastUsedAt: null }] };
      });
    }
    case 'ProviderKeyAgentUnlinked':
      return update(state, (key) => ({ ...key, agents: key.agents.filter((a) => a.agentUuid !== event.data.agentUuid) }));
    case 'ProviderKeyDeleted':
      if (state.status !== 'active') return state;
      return { status: 'deleted', key: { ...state.key, deletedAt: event.data.deletedAt, updatedAt: event.data.deletedAt } };
    default: {
      const unknownEvent: never = event;
      throw new Error(`Unknown event type ${(unknownEvent as { type: string }).type}`);
    }
  }
}

function update(state: ProviderKeyState, change: (key: ProviderKey) => ProviderKey): ProviderKeyState {
  return state.status === 'active' ? { status: 'active', key: change(state.key) } : state;
}
