import { CommandHandling, Decider } from './command-handling';
import { ConcurrencyError } from './concurrency.error';
import { ExpectedRevision, NewEvent } from './event-store.port';
import { InMemoryEventStore } from './in-memory.event-store';

type Counter = { count: number };
type Incremented = { type: 'Incremented'; data: { by: number } };
const counter: Decider<{ by: number }, Incremented, Counter> = {
  decide: (command) => [{ type: 'Incremented', data: { by: command.by } }],
  evolve: (state, event) => ({ count: state.count + event.data.by }),
  initialState: { count: 0 },
  decode: (stored) => stored as unknown as Incremented,
};

/** Another process writes the stream between our read and our append, `times` times. */
class InterferingStore extends InMemoryEventStore {
  constructor(private times: number) {
    super();
  }
  override async appendToStream(streamId: string, events: readonly NewEvent[], expected: ExpectedRevision) {
    if (this.times > 0 && expected !== 'any') {
      this.times -= 1;
      await super.appendToStream(streamId, [{ type: 'Incremented', data: { by: 100 } }], 'any');
    }
    return super.appendToStream(streamId, events, expected);
  }
}

describe('command handling', () => {
  it('runs concurrent commands on one stream one after another: contiguous revisions, nothing lost', async () => {
    const store = new InMemoryEventStore();
    const handling = new CommandHandling(store);
    await Promise.all(Array.from({ length: 100 }, () => handling.handle('c-1', counter, { by: 1 }, {})));
    const events = await store.readStream('c-1');
    expect(events.map((e) => e.revision)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('retries after a conflict with another writer and folds the fresh state', async () => {
    const store = new InterferingStore(2);
    const outcome = await new CommandHandling(store, { maxAttempts: 5 }).handle('c-1', counter, { by: 1 }, { requestId: 'r' });
    expect(outcome.state).toEqual({ count: 201 });
    expect((await store.readStream('c-1')).at(-1)?.metadata).toEqual({ requestId: 'r' });
  });

  it('gives up with the ConcurrencyError after the bounded number of attempts', async () => {
    const store = new InterferingStore(10);
    await expect(new CommandHandling(store, { maxAttempts: 3 }).handle('c-1', counter, { by: 1 }, {})).rejects.toBeInstanceOf(ConcurrencyError);
    expect(await store.readStream('c-1')).toHaveLength(3);
  });
});
