import { ChainVerifier } from './event-hash';
import { ConcurrencyError } from './concurrency.error';
import { EventFollower } from './event-follower';
import { EventStore, StoredEvent } from './event-store.port';

export interface ContractSubject {
  /** A fresh, empty store. */
  open(): Promise<EventStore>;
  /** The same store again after close(), as after a restart; omitted where nothing survives. */
  reopen?(): Promise<EventStore>;
}

/** One behaviour for every adapter: the same tests run against each. */
export function eventStoreContract(name: string, subject: ContractSubject): void {
  describe(`${name} event store (contract)`, () => {
    let store: EventStore;
    beforeEach(async () => {
      store = await subject.open();
    });
    afterEach(async () => {
      await store.close();
    });

    it('appends and reads back a stream in revision order, with data and metadata intact', async () => {
      await store.appendToStream('s-1', [{ type: 'A', data: { n: 1 }, metadata: { requestId: 'r1' } }, { type: 'B', data: { n: 2 } }], 'no_stream');
      const events = await store.readStream('s-1');
      expect(events.map((e) => [e.type, e.revision, e.data])).toEqual([
        ['A', 0, { n: 1 }],
        ['B', 1, { n: 2 }],
      ]);
      expect(events[0].metadata).toEqual({ requestId: 'r1' });
      expect(Date.parse(events[0].recordedAt)).not.toBeNaN();
      expect(await store.readStream('missing')).toEqual([]);
    });

    it('refuses an append whose expected revision is not the current one', async () => {
      await store.appendToStream('s-1', [{ type: 'A', data: {} }], 'no_stream');
      await expect(store.appendToStream('s-1', [{ type: 'B', data: {} }], 'no_stream')).rejects.toBeInstanceOf(ConcurrencyError);
      await expect(store.appendToStream('s-1', [{ type: 'B', data: {} }], 5)).rejects.toBeInstanceOf(ConcurrencyError);
      await expect(store.appendToStream('s-2', [{ type: 'B', data: {} }], 0)).rejects.toBeInstanceOf(ConcurrencyError);
      const result = await store.appendToStream('s-1', [{ type: 'B', data: {} }], 0);
      expect(result.nextExpectedRevision).toBe(1);
    });

    it('50 concurrent appenders to one stream: no write lost, no revision reused', async () => {
      await store.appendToStream('hot', [{ type: 'Start', data: {} }], 'no_stream');
      const writer = async (id: number) => {
        for (;;) {
          const events = await store.readStream('hot');
          try {
            await store.appendToStream('hot', [{ type: 'Write', data: { id } }], events[events.length - 1].revision);
            return;
          } catch (error) {
            if (!(error instanceof ConcurrencyError)) throw error;
          }
        }
      };
      await Promise.all(Array.from({ length: 50 }, (_, id) => writer(id)));
      const events = await store.readStream('hot');
      expect(events).toHaveLength(51);
      expect(events.map((e) => e.revision)).toEqual(Array.from({ length: 51 }, (_, i) => i));
      expect(new Set(events.slice(1).map((e) => (e.data as { id: number }).id)).size).toBe(50);
    });

    it('reads bodies exactly as readAll reads events, less the metadata and the chain', async () => {
      const odd = { text: 'quote " backslash \\ newline \n ü 🔑', nested: { list: [1, 2.5, null, true], empty: {} } };
      await store.appendToStream('a-"x\\y', [{ type: 'A', data: odd, metadata: { actor: { userId: 'u' } } }], 'no_stream');
      await store.appendToStream('b-1', [{ type: 'B', data: [1, 'two'] }], 'no_stream');
      await store.appendToStream('a-2', [{ type: 'A', data: 'plain' }, { type: 'A', data: null }], 'no_stream');
      const bodies = (events: StoredEvent[]) => events.map(({ metadata, prevHash, hash, ...body }) => body);
      for (const options of [{}, { limit: 2 }, { streamPrefixes: ['a-'] }, { streamPrefixes: ['b-'], limit: 1 }, { streamPrefixes: [] }]) {
        expect(await store.readBodies(0, options)).toEqual(bodies(await store.readAll(0, options)));
      }
      const all = await store.readAll(0);
      expect(await store.readBodies(all[1].position)).toEqual(bodies(all.slice(2)));
      expect((await store.readBodies(0))[0].data).toEqual(odd);
    });

    it('replays bodies in pages up to a position, as readBodies reads them', async () => {
      for (let i = 0; i < 7; i++) await store.appendToStream(`${i % 2 ? 'a' : 'b'}-${i}`, [{ type: 'T', data: { i } }], 'no_stream');
      const all = await store.readBodies(0, { limit: 100 });
      const replayed = async (after: number, upTo: number, options = {}) => {
        const pages: number[][] = [];
        for await (const page of store.replayBodies(after, upTo, options)) pages.push(page.map((e) => (e.data as { i: number }).i));
        return pages;
      };
      expect(await replayed(0, all[6].position, { pageSize: 3 })).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
      expect(await replayed(all[1].position, all[4].position, { pageSize: 2 })).toEqual([[2, 3], [4]]);
      expect(await replayed(0, all[6].position, { pageSize: 2, streamPrefixes: ['a-'] })).toEqual([[1, 3], [5]]);
      expect(await replayed(all[6].position, all[6].position)).toEqual([]);
      const whole: unknown[] = [];
      for await (const page of store.replayBodies(0, all[6].position)) whole.push(...page);
      expect(whole).toEqual(all);
      // Leaving early lets go of whatever reads ahead.
      for await (const page of store.replayBodies(0, all[6].position, { pageSize: 1 })) if (page.length > 0) break;
    });

    it('keeps one global order across streams, readable from any position and by stream prefix', async () => {
      await store.appendToStream('a-1', [{ type: 'A', data: { i: 1 } }], 'no_stream');
      await store.appendToStream('b-1', [{ type: 'B', data: { i: 2 } }], 'no_stream');
      await store.appendToStream('a-2', [{ type: 'A', data: { i: 3 } }], 'no_stream');
      const all = await store.readAll(0);
      expect(all.map((e) => (e.data as { i: number }).i)).toEqual([1, 2, 3]);
      expect(all.map((e) => e.position)).toEqual([...all.map((e) => e.position)].sort((x, y) => x - y));
      expect((await store.readAll(all[0].position)).map((e) => e.streamId)).toEqual(['b-1', 'a-2']);
      expect((await store.readAll(0, { streamPrefixes: ['a-'] })).map((e) => e.streamId)).toEqual(['a-1', 'a-2']);
      expect((await store.readAll(0, { streamPrefixes: ['b-', 'a-2'] })).map((e) => e.streamId)).toEqual(['b-1', 'a-2']);
      expect((await store.readAll(all[0].position, { streamPrefixes: ['a-'], limit: 1 })).map((e) => e.streamId)).toEqual(['a-2']);
      expect((await store.readAll(0, { limit: 2 })).length).toBe(2);
      expect(await store.headPosition()).toBe(all[2].position);
    });

    it('reads the events at given global positions, in global order, leaving out positions that hold none', async () => {
      await store.appendToStream('p-1', [{ type: 'A', data: { i: 1 } }, { type: 'B', data: { i: 2 } }], 'no_stream');
      await store.appendToStream('p-2', [{ type: 'C', data: { i: 3 } }], 'no_stream');
      const all = await store.readAll(0);
      const picked = await store.readPositions([all[2].position, all[0].position, 999_999]);
      expect(picked.map((e) => [e.type, e.data, e.hash])).toEqual([
        ['A', { i: 1 }, all[0].hash],
        ['C', { i: 3 }, all[2].hash],
      ]);
      expect(await store.readPositions([])).toEqual([]);
    });

    it("chains each stream: prevHash is the previous event's hash, and every hash recomputes", async () => {
      await store.appendToStream('h-1', [{ type: 'A', data: { b: 1, a: [1, 'x'] }, metadata: { actor: { userId: 'u' } } }], 'no_stream');
      await store.appendToStream('h-2', [{ type: 'A', data: {} }], 'no_stream');
      await store.appendToStream('h-1', [{ type: 'B', data: { nested: { z: null, y: true } } }, { type: 'C', data: 'text' }], 0);
      const stream = await store.readStream('h-1');
      expect(stream[0].prevHash).toBeNull();
      expect(stream[1].prevHash).toBe(stream[0].hash);
      expect(stream[2].prevHash).toBe(stream[1].hash);
      expect(new Set(stream.map((e) => e.hash)).size).toBe(3);
      const verifier = new ChainVerifier();
      for (const event of await store.readAll(0)) expect(verifier.check(event)).toBeNull();
      expect([verifier.streams, verifier.events]).toEqual([2, 4]);
    });

    it('follows from a checkpoint: the backlog, then the live tail', async () => {
      await store.appendToStream('f-1', [{ type: 'Old', data: {} }, { type: 'Seen', data: {} }], 'no_stream');
      const checkpoint = (await store.readAll(0))[0].position;
      const seen: StoredEvent[] = [];
      const follower = new EventFollower(store, async (events) => {
        seen.push(...events);
        return events[events.length - 1].position;
      }, { pollIntervalMs: 20 });
      follower.start(checkpoint);
      await store.appendToStream('f-2', [{ type: 'Live', data: {} }], 'no_stream');
      await waitUntil(() => seen.length === 2);
      await follower.stop();
      expect(seen.map((e) => e.type)).toEqual(['Seen', 'Live']);
    });

    if (subject.reopen) {
      it('keeps every acknowledged event across a restart, and resumes after a checkpoint', async () => {
        await store.appendToStream('r-1', [{ type: 'A', data: {} }, { type: 'B', data: {} }], 'no_stream');
        const checkpoint = await store.headPosition();
        await store.close();
        store = await subject.reopen!();
        await store.appendToStream('r-1', [{ type: 'C', data: {} }], 1);
        expect((await store.readStream('r-1')).map((e) => e.type)).toEqual(['A', 'B', 'C']);
        expect((await store.readAll(checkpoint)).map((e) => e.type)).toEqual(['C']);
      });
    }
  });
}

async function waitUntil(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
