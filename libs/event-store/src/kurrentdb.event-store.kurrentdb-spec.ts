import { randomBytes } from 'node:crypto';
import { ConcurrencyError } from './concurrency.error';
import { eventStoreContract } from './event-store.contract';
import { AppendResult, EventBody, EventStore, ExpectedRevision, NewEvent, ReadAllOptions, ReplayOptions, StoredEvent, pagedBodies } from './event-store.port';
import { KurrentDbEventStore } from './kurrentdb.event-store';
import { EventStoreUnavailableError } from './store-unavailable.error';

/**
 * Runs when KURRENTDB_CONNECTION_STRING names a server (npm run test:kurrentdb says when it does not).
 * A KurrentDB server cannot be emptied between tests, so each test sees the store through a stream-name
 * namespace of its own: the contract's streams are prefixed, and reads keep to the prefix.
 */
const connectionString = process.env.KURRENTDB_CONNECTION_STRING ?? '';

class Namespaced implements EventStore {
  constructor(
    private readonly inner: KurrentDbEventStore,
    private readonly ns: string,
  ) {}
  appendToStream(streamId: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    return this.inner.appendToStream(this.ns + streamId, events, expected).catch((error: unknown) => {
      if (error instanceof ConcurrencyError) throw new ConcurrencyError(streamId, error.expected, error.actual);
      throw error;
    });
  }
  async readStream(streamId: string): Promise<StoredEvent[]> {
    return (await this.inner.readStream(this.ns + streamId)).map((e) => this.strip(e));
  }
  async readAll(after: number, options: ReadAllOptions = {}): Promise<StoredEvent[]> {
    const prefixes = (options.streamPrefixes ?? ['']).map((prefix) => this.ns + prefix);
    return (await this.inner.readAll(after, { ...options, streamPrefixes: prefixes })).map((e) => this.strip(e));
  }
  async readBodies(after: number, options: ReadAllOptions = {}): Promise<EventBody[]> {
    const prefixes = (options.streamPrefixes ?? ['']).map((prefix) => this.ns + prefix);
    return (await this.inner.readBodies(after, { ...options, streamPrefixes: prefixes })).map((e) => ({ ...e, streamId: e.streamId.slice(this.ns.length) }));
  }
  replayBodies(after: number, upTo: number, options?: ReplayOptions): AsyncIterable<EventBody[]> {
    return pagedBodies(this, after, upTo, options);
  }
  async readPositions(positions: readonly number[]): Promise<StoredEvent[]> {
    return (await this.inner.readPositions(positions)).filter((e) => e.streamId.startsWith(this.ns)).map((e) => this.strip(e));
  }
  async headPosition(): Promise<number> {
    const all = await this.readAll(0, { limit: 100_000 });
    return all.length === 0 ? 0 : all[all.length - 1].position;
  }
  onAppended(listener: (position: number) => void): () => void {
    return this.inner.onAppended(listener);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  private strip(event: StoredEvent): StoredEvent {
    return { ...event, streamId: event.streamId.slice(this.ns.length) };
  }
}

let ns = '';
beforeEach(() => {
  ns = `contract${randomBytes(4).toString('hex')}_`;
});

eventStoreContract('KurrentDB', {
  open: async () => new Namespaced(await KurrentDbEventStore.connect(connectionString), ns),
  reopen: async () => new Namespaced(await KurrentDbEventStore.connect(connectionString), ns),
});

describe('KurrentDB event store', () => {
  it('an unreachable server is a clear error naming the variable', async () => {
    await expect(KurrentDbEventStore.connect('kurrentdb://127.0.0.1:9?tls=false')).rejects.toBeInstanceOf(EventStoreUnavailableError);
  });
});
