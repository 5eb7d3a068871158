import {
  AllStreamResolvedEvent,
  BACKWARDS,
  END,
  FORWARDS,
  KurrentDBClient,
  START,
  StreamNotFoundError,
  WrongExpectedVersionError,
  excludeSystemEvents,
  jsonEvent,
  streamNameFilter,
} from '@kurrent/kurrentdb-client';
import { ConcurrencyError, revisionMatches } from './concurrency.error';
import { chainEvents } from './group-commit';
import { AppendResult, EventBody, EventStore, ExpectedRevision, Metadata, NewEvent, ReadAllOptions, ReplayOptions, StoredEvent, bodyOf, pagedBodies } from './event-store.port';
import { EventStoreUnavailableError, redactUrl } from './store-unavailable.error';

/** Where the hash chain travels: a metadata key of its own, taken off again when the event is read. */
const CHAIN = 'model-keys.chain';

interface Chain {
  readonly prevHash: string | null;
  readonly hash: string;
}

/** Attempts of an `any` append that raced another writer for the chain's head. */
const ANY_ATTEMPTS = 5;

/**
 * EventStoreDB 23.10+ / KurrentDB, through `@kurrent/kurrentdb-client`. One stream per aggregate, named
 * as the core names them (`category-id`); an append carries the expected revision as `streamState`,
 * and the client's WrongExpectedVersionError becomes the port's ConcurrencyError. The global order is
 * `$all`: a position is the event's commit position (prepare and commit are equal for events written
 * outside explicit transactions, which is all this service writes), read with a stream-prefix filter.
 */
export class KurrentDbEventStore implements EventStore {
  private readonly listeners = new Set<(position: number) => void>();

  private constructor(private readonly client: KurrentDBClient) {}

  static async connect(connectionString: string): Promise<KurrentDbEventStore> {
    let client: KurrentDBClient;
    try {
      client = KurrentDBClient.connectionString(connectionString);
    } catch (error) {
      throw new EventStoreUnavailableError(`EVENT_STORE=kurrentdb: KURRENTDB_CONNECTION_STRING is not a valid connection string: ${(error as Error).message}`);
    }
    const store = new KurrentDbEventStore(client);
    try {
      await store.headPosition();
    } catch (error) {
      await client.dispose().catch(() => undefined);
      throw new EventStoreUnavailableError(
        `EVENT_STORE=kurrentdb: cannot reach KurrentDB at KURRENTDB_CONNECTION_STRING=${redactUrl(connectionString)}: ${(error as Error).message}`,
      );
    }
    return store;
  }

  async appendToStream(streamId: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    for (let attempt = 1; ; attempt++) {
      const head = await this.head(streamId);
      const current = head?.revision ?? -1;
      if (!revisionMatches(expected, current)) throw new ConcurrencyError(streamId, expected, current);
      const data = chainEvents(events, current, head?.hash ?? null).map((event) => {
        const chain: Chain = { prevHash: event.prevHash, hash: event.hash };
        const metadata = JSON.parse(event.metadata) as Metadata;
        return jsonEvent({ type: event.type, data: JSON.parse(event.data) as Record<string, unknown>, metadata: { ...metadata, [CHAIN]: chain } });
      });
      try {
        // The chain was built on the head just read: the server must still be at that revision.
        const result = await this.client.appendToStream(streamId, data, { streamState: current === -1 ? 'no_stream' : BigInt(current) });
        const lastPosition = Number(result.position?.commit ?? 0n);
        for (const listener of this.listeners) listener(lastPosition);
        return { nextExpectedRevision: Number(result.nextExpectedRevision), lastPosition };
      } catch (error) {
        if (!(error instanceof WrongExpectedVersionError)) throw error;
        if (expected !== 'any' || attempt >= ANY_ATTEMPTS) throw new ConcurrencyError(streamId, expected, String(error.actualState));
      }
    }
  }

  private async head(streamId: string): Promise<{ revision: number; hash: string } | null> {
    try {
      for await (const resolved of this.client.readStream(streamId, { direction: BACKWARDS, fromRevision: END, maxCount: 1 })) {
        const stored = resolved.event && toStoredEvent(resolved.event as Recorded);
        if (stored) return { revision: stored.revision, hash: stored.hash };
      }
      return null;
    } catch (error) {
      if (error instanceof StreamNotFoundError) return null;
      throw error;
    }
  }

  /** Sets the stream's `$maxCount`: the server drops older events at its next scavenge, and reads skip them at once. */
  async limitStream(streamId: string, maxCount: number): Promise<void> {
    await this.client.setStreamMetadata(streamId, { maxCount });
  }

  async readStream(streamId: string): Promise<StoredEvent[]> {
    const out: StoredEvent[] = [];
    try {
      for await (const resolved of this.client.readStream(streamId, { direction: FORWARDS, fromRevision: START })) {
        if (resolved.event) out.push(toStoredEvent(resolved.event as Recorded));
      }
    } catch (error) {
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    }
    return out;
  }

  async readAll(afterPosition: number, options: ReadAllOptions = {}): Promise<StoredEvent[]> {
    const limit = options.limit ?? 1000;
    if (options.streamPrefixes?.length === 0) return [];
    const filter = options.streamPrefixes ? streamNameFilter({ prefixes: [...options.streamPrefixes] }) : excludeSystemEvents();
    const from = afterPosition === 0 ? START : { commit: BigInt(afterPosition), prepare: BigInt(afterPosition) };
    const out: StoredEvent[] = [];
    // fromPosition is inclusive: one more, and the event at afterPosition itself is dropped.
    for await (const resolved of this.client.readAll({ fromPosition: from, direction: FORWARDS, maxCount: limit + 1, filter })) {
      const event = storedOfAll(resolved);
      if (event && event.position > afterPosition && out.length < limit) out.push(event);
    }
    return out;
  }

  /** The server sends whole events either way: bodies are cut from them. */
  async readBodies(afterPosition: number, options: ReadAllOptions = {}): Promise<EventBody[]> {
    return (await this.readAll(afterPosition, options)).map(bodyOf);
  }

  replayBodies(afterPosition: number, upTo: number, options?: ReplayOptions): AsyncIterable<EventBody[]> {
    return pagedBodies(this, afterPosition, upTo, options);
  }

  async readPositions(positions: readonly number[]): Promise<StoredEvent[]> {
    const out: StoredEvent[] = [];
    for (const position of [...new Set(positions)].sort((a, b) => a - b)) {
      for await (const resolved of this.client.readAll({
        fromPosition: { commit: BigInt(position), prepare: BigInt(position) },
        direction: FORWARDS,
        maxCount: 1,
        filter: excludeSystemEvents(),
      })) {
        const event = storedOfAll(resolved);
        if (event?.position === position) out.push(event);
      }
    }
    return out;
  }

  async headPosition(): Promise<number> {
    for await (const resolved of this.client.readAll({ fromPosition: END, direction: BACKWARDS, maxCount: 1, filter: excludeSystemEvents() })) {
      return storedOfAll(resolved)?.position ?? 0;
    }
    return 0;
  }

  /** This process's appends; other writers' are seen by the followers' polling. */
  onAppended(listener: (position: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await this.client.dispose();
  }
}

interface Recorded {
  readonly streamId: string;
  readonly revision: bigint;
  readonly type: string;
  readonly data: unknown;
  readonly metadata: unknown;
  readonly created: Date;
  readonly position?: { readonly commit: bigint };
}

function storedOfAll(resolved: AllStreamResolvedEvent): StoredEvent | null {
  if (!resolved.event || resolved.event.streamId.startsWith('$')) return null;
  return toStoredEvent(resolved.event as Recorded);
}

function toStoredEvent(event: Recorded): StoredEvent {
  const { [CHAIN]: chain, ...metadata } = (event.metadata ?? {}) as Record<string, unknown>;
  const links = chain as Chain | undefined;
  return {
    streamId: event.streamId,
    revision: Number(event.revision),
    position: Number(event.position?.commit ?? 0n),
    type: event.type,
    data: event.data,
    metadata,
    recordedAt: event.created.toISOString(),
    prevHash: links?.prevHash ?? null,
    hash: links?.hash ?? '',
  };
}
