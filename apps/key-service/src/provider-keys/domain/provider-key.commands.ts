import { Principal } from '../../auth/principal';
import { SealedSecret } from '../../crypto/envelope';
import { Provider } from './provider-key.events';

/** The secret arrives here already verified with the provider and sealed: the domain never sees it. */
export interface AddProviderKey {
  readonly type: 'AddProviderKey';
  readonly keyUuid: string;
  readonly actor: Principal;
  readonly provider: Provider;
  readonly name: string;
  readonly sealedSecret: SealedSecret;
  readonly models: readonly string[] | null;
  readonly now: string;
}

export interface UpdateProviderKey {
  readonly type: 'UpdateProviderKey';
  readonly keyUuid: string;
  readonly actor: Principal;
  readonly provider: Provider;
  readonly name?: string;
  readonly secret?: { readonly sealedSecret: SealedSecret; readonly models: readonly string[] | null };
  readonly now: string;
}

export interface DeleteProviderKey {
  readonly type: 'DeleteProviderKey';
  readonly keyUuid: string;
  readonly actor: Principal;
  readonly provider: Provider;
  readonly confirmName: string | null;
  readonly now: string;
}

export interface RecordSecretRead {
  readonly type: 'RecordSecretRead';
  readonly keyUuid: string;
  readonly actor: Principal;
  readonly now: string;
  /** The linked agent the read is for; it must be linked to the key. */
  readonly agentUuid?: string;
}

/** The agent platform (role `service`, the key's team) links an agent to the key. */
export interface LinkAgent {
  readonly type: 'LinkAgent';
  readonly keyUuid: string;
  readonly actor: Principal;
  readonly provider: Provider;
  readonly agentUuid: string;
  /** Given: recorded (1-200 characters, trimmed by the transport); absent: a known name is kept. */
  /** undefined: a name given before is kept; null: the name is removed. */
  readonly agentName?: string | null;
  readonly now: string;
}

export interface UnlinkAgent {
  readonly type: 'UnlinkAgent';
  readonly keyUuid: string;
  readonly actor: Principal;
  readonly provider: Provider;
  readonly agentUuid: string;
  readonly now: string;
}

export type ProviderKeyCommand = AddProviderKey | UpdateProviderKey | DeleteProviderKey | RecordSecretRead | LinkAgent | UnlinkAgent;
