import { ConcurrencyError, revisionMatches } from './concurrency.error';
import { eventHash } from './event-hash';
import { AppendResult, EventBody, EventStore, ExpectedRevision, NewEvent, ReadAllOptions, ReplayOptions, StoredEvent, bodyOf, matchesPrefixes, pagedBodies } from './event-store.port';

/** For unit tests and throwaway runs: nothing survives the process. */
export class InMemoryEventStore implements EventStore {
  private readonly all: StoredEvent[] = [];
  private readonly streams = new Map<string, StoredEvent[]>();
  private readonly listeners = new Set<(position: number) => void>();

  async appendToStream(streamId: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    const stream = this.streams.get(streamId) ?? [];
    const current = stream.length - 1;
    if (!revisionMatches(expected, current)) throw new ConcurrencyError(streamId, expected, current);
    const recordedAt = new Date().toISOString();
    for (const event of events) {
      // Stored as JSON would be, so that the hash is the one a reader recomputes.
      const data = JSON.parse(JSON.stringify(event.data ?? null));
      const metadata = JSON.parse(JSON.stringify(event.metadata ?? {}));
      const revision = stream.length;
      const prevHash = stream.length > 0 ? stream[stream.length - 1].hash : null;
      const stored: StoredEvent = {
        streamId,
        revision,
        position: this.all.length + 1,
        type: event.type,
        data,
        metadata,
        recordedAt,
        prevHash,
        hash: eventHash(prevHash, { type: event.type, data, metadata, revision }),
      };
      stream.push(stored);
      this.all.push(stored);
    }
    this.streams.set(streamId, stream);
    const lastPosition = this.all.length;
    for (const listener of this.listeners) listener(lastPosition);
    return { nextExpectedRevision: stream.length - 1, lastPosition };
  }

  async readStream(streamId: string): Promise<StoredEvent[]> {
    return [...(this.streams.get(streamId) ?? [])];
  }

  async readAll(afterPosition: number, options: ReadAllOptions = {}): Promise<StoredEvent[]> {
    const limit = options.limit ?? 1000;
    const out: StoredEvent[] = [];
    for (let i = afterPosition; i < this.all.length && out.length < limit; i++) {
      const event = this.all[i];
      if (matchesPrefixes(event.streamId, options.streamPrefixes)) out.push(event);
    }
    return out;
  }

  async readBodies(afterPosition: number, options: ReadAllOptions = {}): Promise<EventBody[]> {
    return (await this.readAll(afterPosition, options)).map(bodyOf);
  }

  replayBodies(afterPosition: number, upTo: number, options?: ReplayOptions): AsyncIterable<EventBody[]> {
    return pagedBodies(this, afterPosition, upTo, options);
  }

  async readPositions(positions: readonly number[]): Promise<StoredEvent[]> {
    return [...new Set(positions)]
      .filter((position) => Number.isInteger(position) && position >= 1 && position <= this.all.length)
      .sort((a, b) => a - b)
      .map((position) => this.all[position - 1]);
  }

  async headPosition(): Promise<number> {
    return this.all.length;
  }

  onAppended(listener: (position: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
