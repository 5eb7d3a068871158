import { Inject, Injectable } from '@nestjs/common';
import { EVENT_STORE, EventStore, Metadata } from '@lib/event-store';
import { HolderStatus } from '../../names/domain/name-registry.decider';
import { NameRegistry } from '../../names/name-registry.service';
import { decodeKeyEvent } from '../domain/model-access-key.codec';
import { keyStreamId } from '../domain/model-access-key.events';
import { ModelAccessKeyState, fold } from '../domain/model-access-key.state';

/** The registry entries of keys whose name is unique in their team (the Gcore-style API's keys). */
@Injectable()
export class KeyNames {
  constructor(
    private readonly registry: NameRegistry,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {}

  reserve(teamId: string, name: string, keyUuid: string, now: string, metadata: Metadata): Promise<void> {
    return this.registry.reserve(claim(teamId, name, keyUuid), now, (holder) => this.holderStatus(holder, name), metadata);
  }

  release(teamId: string, name: string, keyUuid: string, now: string, metadata: Metadata): Promise<void> {
    return this.registry.release(claim(teamId, name, keyUuid), now, metadata);
  }

  /** The key as its own stream has it, for a decision taken before its command runs. */
  async current(keyUuid: string): Promise<ModelAccessKeyState> {
    return fold((await this.store.readStream(keyStreamId(keyUuid))).map(decodeKeyEvent));
  }

  private async holderStatus(keyUuid: string, name: string): Promise<HolderStatus> {
    const state = await this.current(keyUuid);
    if (state.status === 'absent') return 'never_created';
    if (state.status === 'deleted') return 'gone';
    return state.key.uniqueName && state.key.name === name ? 'holds' : 'renamed_away';
  }
}

const claim = (teamId: string, name: string, ownerId: string) => ({ scope: `model_access_key/${teamId}`, teamId, name, ownerId });
