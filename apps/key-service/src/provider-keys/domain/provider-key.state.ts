import { SealedSecret } from '../../crypto/envelope';
import { Provider, ProviderKeyEvent } from './provider-key.events';

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
        },
      };
    }
    case 'ProviderKeyRenamed':
      return update(state, (key) => ({ ...key, name: event.data.name, updatedAt: event.data.renamedAt }));
    case 'ProviderKeySecretReplaced':
      return update(state, (key) => ({ ...key, sealedSecret: event.data.sealedSecret, models: event.data.models, updatedAt: event.data.replacedAt }));
    case 'ProviderKeySecretRead':
      return state;
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
