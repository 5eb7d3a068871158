import { Inject, Injectable } from '@nestjs/common';
import { CommandHandling, Decider, EVENT_STORE, EventStore, Metadata } from '@lib/event-store';
import { decide } from '../domain/model-access-key.decider';
import { decodeKeyEvent } from '../domain/model-access-key.codec';
import { ModelAccessKeyCommand } from '../domain/model-access-key.commands';
import { ModelAccessKeyEvent, keyStreamId } from '../domain/model-access-key.events';
import { ModelAccessKey, ModelAccessKeyState, evolve, initialState } from '../domain/model-access-key.state';
import { ProjectionRunner } from '../../read-side/projection-runner';
import { Metrics } from '../../observability/metrics';
import { inSpan } from '../../observability/tracing';

export const modelAccessKeyDecider: Decider<ModelAccessKeyCommand, ModelAccessKeyEvent, ModelAccessKeyState> = {
  decide,
  evolve,
  initialState,
  decode: decodeKeyEvent,
};

/**
 * Runs a key command through the shared command path, then waits until the team views include its
 * events, so that a client can read what it has just written.
 */
@Injectable()
export class KeyCommandExecutor {
  private readonly handling: CommandHandling;

  constructor(
    @Inject(EVENT_STORE) store: EventStore,
    private readonly projections: ProjectionRunner,
    private readonly metrics: Metrics,
  ) {
    this.handling = new CommandHandling(store, { maxAttempts: 8 });
  }

  /** Timed in key_service_command_duration_seconds by command type and outcome; a span when tracing is on. */
  execute(command: ModelAccessKeyCommand, metadata: Metadata): Promise<ModelAccessKey> {
    const streamId = keyStreamId(command.keyUuid);
    return inSpan(`command ${command.type}`, { attributes: { 'command.type': command.type, 'event_store.stream_id': streamId } }, () =>
      this.metrics.timeCommand(command.type, async () => {
        const outcome = await this.handling.handle(streamId, modelAccessKeyDecider, command, metadata);
        if (outcome.position !== null) await this.projections.waitFor(outcome.position);
        if (outcome.state.status === 'absent') throw new Error(`command ${command.type} left key ${command.keyUuid} absent`);
        return outcome.state.key;
      }),
    );
  }
}

/** What a command hands back to the transports: the key, and a secret only where it is shown once. */
export interface KeyResult {
  readonly key: ModelAccessKey;
  readonly secret?: string;
}
