import type { EventStoreObserver } from './group-commit';

export const matchesPrefixes = (streamId: string, prefixes: readonly string[] | undefined): boolean =>
  prefixes === undefined || prefixes.some((prefix) => streamId.startsWith(prefix));

/** The one contract every event-store adapter (in-memory, SQLite, PostgreSQL, KurrentDB) keeps. */
export const EVENT_STORE = Symbol('EVENT_STORE');

export type Metadata = Readonly<Record<string, unknown>>;

export interface NewEvent {
  readonly type: string;
  readonly data: unknown;
  readonly metadata?: Metadata;
}

export interface StoredEvent {
  readonly streamId: string;
  /** 0-based position of the event inside its stream. */
  readonly revision: number;
  /** 1-based position in the store's global order; gaps are allowed, reordering is not. */
  readonly position: number;
  readonly type: string;
  readonly data: unknown;
  readonly metadata: Metadata;
  readonly recordedAt: string;
  /** The hash of the previous event of the stream; null for its first event. */
  readonly prevHash: string | null;
  /** SHA-256 over (prevHash, type, data, metadata, revision) in canonical JSON: see event-hash.ts. */
  readonly hash: string;
}

/**
 * An event without its metadata and hash chain: what a projection that folds event bodies needs, and
 * far cheaper to read in bulk (a replay of a large log reads this).
 */
export type EventBody = Omit<StoredEvent, 'metadata' | 'prevHash' | 'hash'>;

export const bodyOf = ({ metadata, prevHash, hash, ...body }: StoredEvent): EventBody => body;

/** 'no_stream': the stream must not exist yet; a number: the revision of its last event; 'any': no check. */
export type ExpectedRevision = number | 'no_stream' | 'any';

export interface AppendResult {
  /** The revision of the last appended event: what the next append expects. */
  readonly nextExpectedRevision: number;
  /** The global position of the last appended event. */
  readonly lastPosition: number;
}

export interface ReadAllOptions {
  readonly limit?: number;
  /** Only events of streams whose id starts with one of these (KurrentDB filters on the server). */
  readonly streamPrefixes?: readonly string[];
}

export interface ReplayOptions {
  readonly streamPrefixes?: readonly string[];
  /** Events per page at most; 10,000 unless told. A store may make pages of large events smaller. */
  readonly pageSize?: number;
}

export interface EventStore {
  appendToStream(streamId: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult>;
  /** Every event of the stream in revision order; [] when the stream does not exist. */
  readStream(streamId: string): Promise<StoredEvent[]>;
  /** Events with a position greater than `afterPosition`, in global order. */
  readAll(afterPosition: number, options?: ReadAllOptions): Promise<StoredEvent[]>;
  /** What readAll reads, as bodies only (see EventBody). */
  readBodies(afterPosition: number, options?: ReadAllOptions): Promise<EventBody[]>;
  /**
   * Every body with a position in (afterPosition, upTo], in global order, a page at a time: what a
   * rebuild reads. An adapter may read ahead while the caller works on a page (see pagedBodies).
   */
  replayBodies(afterPosition: number, upTo: number, options?: ReplayOptions): AsyncIterable<EventBody[]>;
  /** The events at these global positions, in global order; a position that holds no event is left out. */
  readPositions(positions: readonly number[]): Promise<StoredEvent[]>;
  /** The position of the last stored event (0 for an empty store). */
  headPosition(): Promise<number>;
  /** Called after events were appended by this process; other writers are seen by polling. */
  onAppended(listener: (lastPosition: number) => void): () => void;
  close(): Promise<void>;
  /**
   * Lets the store drop all but the last `maxCount` events of a stream whose every event holds the whole
   * state (a lease stream). KurrentDB sets the stream's `$maxCount`; the other adapters keep every event.
   */
  limitStream?(streamId: string, maxCount: number): Promise<void>;
  /** Reports appends and group commits to `observer` from now on (adapters that batch appends). */
  observe?(observer: EventStoreObserver): void;
}

/** replayBodies by readBodies, a page after the other: for adapters that do not read ahead. */
export async function* pagedBodies(store: EventStore, afterPosition: number, upTo: number, options: ReplayOptions = {}): AsyncIterable<EventBody[]> {
  let position = afterPosition;
  while (position < upTo) {
    const page = await store.readBodies(position, { limit: options.pageSize ?? 10_000, streamPrefixes: options.streamPrefixes });
    const within = page.filter((event) => event.position <= upTo);
    if (within.length > 0) yield within;
    if (within.length < page.length || page.length === 0) return;
    position = page[page.length - 1].position;
  }
}
