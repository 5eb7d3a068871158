import { Inject, Injectable } from '@nestjs/common';
import { ConcurrencyError, EVENT_STORE, EventStore, Metadata } from '@lib/event-store';
import { HolderStatus, NameRegistryCommand, decideName, evolveName, initialNameState } from './domain/name-registry.decider';
import { NameRegistryEvent, nameStreamId } from './domain/name-registry.events';

export interface NameClaim {
  /** What the names are unique in, e.g. `model_access_key/team-1`. */
  readonly scope: string;
  readonly teamId: string;
  readonly name: string;
  readonly ownerId: string;
}

/** Where the holder of a name stands; asked only when another owner holds the name. */
export type HolderLookup = (ownerId: string) => Promise<HolderStatus>;

const MAX_ATTEMPTS = 8;

/**
 * Unique names on an append-only store. Two creates of one name both try to append the reservation
 * with the revision they read; the store lets one through, and the other re-reads, finds the name
 * held and answers NAME_TAKEN. That holds on every adapter, since it is only the expected-revision
 * check of the event-store port.
 */
@Injectable()
export class NameRegistry {
  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  reserve(claim: NameClaim, now: string, holderOf: HolderLookup, metadata: Metadata): Promise<void> {
    return this.run(claim, metadata, async (holder) => ({
      type: 'ReserveName',
      ...claim,
      now,
      holderStatus: holder !== null && holder !== claim.ownerId ? await holderOf(holder) : null,
    }));
  }

  release(claim: NameClaim, now: string, metadata: Metadata): Promise<void> {
    return this.run(claim, metadata, async () => ({ type: 'ReleaseName', ...claim, now }));
  }

  private async run(claim: NameClaim, metadata: Metadata, command: (holder: string | null) => Promise<NameRegistryCommand>): Promise<void> {
    const streamId = nameStreamId(claim.scope, claim.name);
    for (let attempt = 1; ; attempt++) {
      const stored = await this.store.readStream(streamId);
      const state = stored.map(decodeNameEvent).reduce(evolveName, initialNameState);
      const events = decideName(await command(state.holder?.ownerId ?? null), state);
      if (events.length === 0) return;
      try {
        await this.store.appendToStream(
          streamId,
          events.map((e) => ({ type: e.type, data: e.data, metadata })),
          stored.length === 0 ? 'no_stream' : stored[stored.length - 1].revision,
        );
        return;
      } catch (error) {
        if (!(error instanceof ConcurrencyError) || attempt >= MAX_ATTEMPTS) throw error;
      }
    }
  }
}

export function decodeNameEvent(stored: { readonly type: string; readonly data: unknown }): NameRegistryEvent {
  if (stored.type !== 'NameReserved' && stored.type !== 'NameReleased') throw new Error(`Unknown stored event type ${stored.type}`);
  return { type: stored.type, data: stored.data } as NameRegistryEvent;
}
