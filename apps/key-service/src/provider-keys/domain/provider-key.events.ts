import { SealedSecret } from '../../crypto/envelope';

/**
 * Stored event types of the provider-key stream. The secret is in them only as a ciphertext under a
 * data key that lives outside the log; deleting the key destroys that data key.
 */
export const PROVIDERS = ['anthropic', 'openai'] as const;
export type Provider = (typeof PROVIDERS)[number];

export interface ProviderKeyAdded {
  readonly type: 'ProviderKeyAdded';
  readonly data: {
    readonly keyUuid: string;
    readonly teamId: string;
    readonly provider: Provider;
    readonly name: string;
    readonly createdBy: string;
    readonly sealedSecret: SealedSecret;
    /** What the provider listed for the key when it was verified (OpenAI); null otherwise. */
    readonly models: readonly string[] | null;
    readonly createdAt: string;
  };
}

export interface ProviderKeyRenamed {
  readonly type: 'ProviderKeyRenamed';
  readonly data: { readonly keyUuid: string; readonly teamId: string; readonly name: string; readonly renamedAt: string };
}

export interface ProviderKeySecretReplaced {
  readonly type: 'ProviderKeySecretReplaced';
  readonly data: {
    readonly keyUuid: string;
    readonly teamId: string;
    readonly sealedSecret: SealedSecret;
    /** The data key of the replaced secret, destroyed once this event is stored. */
    readonly replacedDataKeyId: string;
    readonly models: readonly string[] | null;
    readonly replacedAt: string;
  };
}

export interface ProviderKeyDeleted {
  readonly type: 'ProviderKeyDeleted';
  readonly data: { readonly keyUuid: string; readonly teamId: string; readonly dataKeyId: string; readonly deletedAt: string };
}

/** A plaintext was handed to an internal service: who, when (the metadata says from where). */
export interface ProviderKeySecretRead {
  readonly type: 'ProviderKeySecretRead';
  readonly data: {
    readonly keyUuid: string;
    readonly teamId: string;
    readonly readBy: string;
    readonly readAt: string;
    /** The linked agent the read was for: it counts as that agent's use. Absent when none was named (and in older events). */
    readonly agentUuid?: string;
  };
}

/**
 * The agent platform (role `service`) linked an agent to the key: the agent calls the provider with
 * it. Linking an agent again with another name records the new name.
 */
export interface ProviderKeyAgentLinked {
  readonly type: 'ProviderKeyAgentLinked';
  readonly data: {
    readonly keyUuid: string;
    readonly teamId: string;
    readonly agentUuid: string;
    /** The agent's name as the platform gave it; null when none was given. */
    readonly agentName: string | null;
    readonly linkedBy: string;
    readonly linkedAt: string;
  };
}

export interface ProviderKeyAgentUnlinked {
  readonly type: 'ProviderKeyAgentUnlinked';
  readonly data: { readonly keyUuid: string; readonly teamId: string; readonly agentUuid: string; readonly unlinkedBy: string; readonly unlinkedAt: string };
}

export type ProviderKeyEvent =
  | ProviderKeyAdded
  | ProviderKeyRenamed
  | ProviderKeySecretReplaced
  | ProviderKeyDeleted
  | ProviderKeySecretRead
  | ProviderKeyAgentLinked
  | ProviderKeyAgentUnlinked;

export const PROVIDER_KEY_EVENT_TYPES: ReadonlySet<string> = new Set<ProviderKeyEvent['type']>([
  'ProviderKeyAdded',
  'ProviderKeyRenamed',
  'ProviderKeySecretReplaced',
  'ProviderKeyDeleted',
  'ProviderKeySecretRead',
  'ProviderKeyAgentLinked',
  'ProviderKeyAgentUnlinked',
]);

export const PROVIDER_KEY_STREAM_PREFIX = 'provider_key-';
export const providerKeyStreamId = (keyUuid: string): string => `${PROVIDER_KEY_STREAM_PREFIX}${keyUuid}`;

export function decodeProviderKeyEvent(stored: { readonly type: string; readonly data: unknown }): ProviderKeyEvent {
  if (!PROVIDER_KEY_EVENT_TYPES.has(stored.type)) throw new Error(`Unknown stored event type ${stored.type}`);
  return { type: stored.type, data: stored.data } as ProviderKeyEvent;
}
