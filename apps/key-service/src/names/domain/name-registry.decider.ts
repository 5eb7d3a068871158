import { DomainError } from '../../common/domain-error';
import { NameRegistryEvent } from './name-registry.events';

export interface NameHolder {
  readonly ownerId: string;
  readonly reservedAt: string;
}

export type NameState = { readonly holder: NameHolder | null };

export const initialNameState: NameState = { holder: null };

export function evolveName(state: NameState, event: NameRegistryEvent): NameState {
  switch (event.type) {
    case 'NameReserved':
      return { holder: { ownerId: event.data.ownerId, reservedAt: event.data.reservedAt } };
    case 'NameReleased':
      return state.holder?.ownerId === event.data.ownerId ? { holder: null } : state;
    default: {
      const unknownEvent: never = event;
      throw new Error(`Unknown event type ${(unknownEvent as { type: string }).type}`);
    }
  }
}

/**
 * What became of the aggregate that holds a name, as the caller found it: still holding it, gone
 * (deleted, or renamed away), or not created at all (a create that crashed after reserving).
 */
export type HolderStatus = 'holds' | 'gone' | 'never_created' | 'renamed_away';

/**
 * A reservation younger than this is honoured whatever the holder looks like: a create or a rename
 * reserves first and writes its own stream a moment later.
 */
export const RESERVATION_GRACE_MS = 30_000;

export interface ReserveName {
  readonly type: 'ReserveName';
  readonly scope: string;
  readonly teamId: string;
  readonly name: string;
  readonly ownerId: string;
  readonly now: string;
  /** Only looked at when another owner holds the name. */
  readonly holderStatus: HolderStatus | null;
}

export interface ReleaseName {
  readonly type: 'ReleaseName';
  readonly scope: string;
  readonly teamId: string;
  readonly name: string;
  readonly ownerId: string;
  readonly now: string;
}

export type NameRegistryCommand = ReserveName | ReleaseName;

export function decideName(command: NameRegistryCommand, state: NameState): NameRegistryEvent[] {
  switch (command.type) {
    case 'ReserveName': {
      const { scope, teamId, name, ownerId, now } = command;
      const holder = state.holder;
      if (holder?.ownerId === ownerId) return [];
      if (holder !== null && !released(holder, command)) {
        throw new DomainError('NAME_TAKEN', `the name "${name}" is already in use`, { field: 'name' });
      }
      return [{ type: 'NameReserved', data: { scope, teamId, name, ownerId, tookOverFrom: holder?.ownerId ?? null, reservedAt: now } }];
    }
    case 'ReleaseName': {
      const { scope, teamId, name, ownerId, now } = command;
      if (state.holder?.ownerId !== ownerId) return [];
      return [{ type: 'NameReleased', data: { scope, teamId, name, ownerId, releasedAt: now } }];
    }
    default: {
      const unknownCommand: never = command;
      throw new Error(`Unknown command ${(unknownCommand as { type: string }).type}`);
    }
  }
}

/** A holder that was deleted lets go at once; one that never appeared or moved on, after the grace. */
function released(holder: NameHolder, command: ReserveName): boolean {
  switch (command.holderStatus) {
    case 'gone':
      return true;
    case 'never_created':
    case 'renamed_away':
      return Date.parse(command.now) - Date.parse(holder.reservedAt) > RESERVATION_GRACE_MS;
    case 'holds':
    case null:
      return false;
    default: {
      const unknownStatus: never = command.holderStatus;
      throw new Error(`Unknown holder status ${unknownStatus as string}`);
    }
  }
}
