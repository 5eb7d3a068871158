/**
 * The name registry: one stream per (scope, name), so that "this name is free" and "it is mine now"
 * are one append with an expected revision, on every store. Stored type names are never renamed.
 */
export interface NameReserved {
  readonly type: 'NameReserved';
  readonly data: {
    readonly scope: string;
    readonly teamId: string;
    readonly name: string;
    /** The aggregate (a key uuid) that holds the name. */
    readonly ownerId: string;
    /** Set when the name was taken over from a holder that no longer holds it (see the decider). */
    readonly tookOverFrom: string | null;
    readonly reservedAt: string;
  };
}

export interface NameReleased {
  readonly type: 'NameReleased';
  readonly data: { readonly scope: string; readonly teamId: string; readonly name: string; readonly ownerId: string; readonly releasedAt: string };
}

export type NameRegistryEvent = NameReserved | NameReleased;

export const NAME_STREAM_PREFIX = 'name_registry-';

/** Readable for auditors: the scope, then the name percent-encoded. */
export const nameStreamId = (scope: string, name: string): string => `${NAME_STREAM_PREFIX}${scope}:${encodeURIComponent(name)}`;
