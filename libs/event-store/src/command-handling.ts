import { ConcurrencyError } from './concurrency.error';
import { EventStore, Metadata, StoredEvent } from './event-store.port';
import { KeyedMutex } from './keyed-mutex';

export interface DomainEventShape {
  readonly type: string;
  readonly data: unknown;
}

export interface Decider<C, E extends DomainEventShape, S> {
  decide(command: C, state: S): E[];
  evolve(state: S, event: E): S;
  readonly initialState: S;
  /** Stored form to domain form, upcasting old shapes on the way. */
  decode(stored: StoredEvent): E;
}

export interface CommandOutcome<E, S> {
  readonly state: S;
  readonly newEvents: readonly E[];
  /** Global position of the last appended event; null when the command changed nothing. */
  readonly position: number | null;
}

export interface CommandHandlingOptions {
  /** Attempts per command before the ConcurrencyError reaches the caller. */
  readonly maxAttempts?: number;
}

/**
 * The one path every command takes: read the stream, fold it, decide, append with the expected
 * revision. Commands on one stream queue behind each other in this process; a conflict with another
 * process is retried with jitter a bounded number of times, then the ConcurrencyError is thrown.
 */
export class CommandHandling {
  private readonly mutex = new KeyedMutex();
  private readonly maxAttempts: number;

  constructor(
    private readonly store: EventStore,
    options: CommandHandlingOptions = {},
  ) {
    this.maxAttempts = options.maxAttempts ?? 5;
  }

  handle<C, E extends DomainEventShape, S>(
    streamId: string,
    decider: Decider<C, E, S>,
    command: C,
    metadata: Metadata,
  ): Promise<CommandOutcome<E, S>> {
    return this.mutex.run(streamId, async () => {
      for (let attempt = 1; ; attempt++) {
        const stored = await this.store.readStream(streamId);
        const state = stored.map((e) => decider.decode(e)).reduce(decider.evolve, decider.initialState);
        const newEvents = decider.decide(command, state);
        if (newEvents.length === 0) return { state, newEvents, position: null };
        const expected = stored.length === 0 ? 'no_stream' : stored[stored.length - 1].revision;
        try {
          const result = await this.store.appendToStream(
            streamId,
            newEvents.map((e) => ({ type: e.type, data: e.data, metadata })),
            expected,
          );
          return { state: newEvents.reduce(decider.evolve, state), newEvents, position: result.lastPosition };
        } catch (error) {
          if (!(error instanceof ConcurrencyError) || attempt >= this.maxAttempts) throw error;
          await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
        }
      }
    });
  }
}
