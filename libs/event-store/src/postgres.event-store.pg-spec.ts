import { freshDatabase, query } from '../../../test/support/postgres';
import { ConcurrencyError } from './concurrency.error';
import { ChainBreak, ChainVerifier, eventHash } from './event-hash';
import { eventStoreContract } from './event-store.contract';
import { EventFollower } from './event-follower';
import { StoredEvent } from './event-store.port';
import { PostgresEventStore } from './postgres.event-store';
import { EventStoreUnavailableError } from './store-unavailable.error';

let url: string;
beforeEach(async () => {
  url = await freshDatabase();
});

eventStoreContract('PostgreSQL', {
  open: () => PostgresEventStore.connect(url),
  reopen: () => PostgresEventStore.connect(url),
});

describe('PostgreSQL event store', () => {
  it('never lets a follower skip an event that commits late: positions become visible in order', async () => {
    const writers = await Promise.all(Array.from({ length: 4 }, () => PostgresEventStore.connect(url)));
    const reader = await PostgresEventStore.connect(url);
    const seen: number[] = [];
    const follower = new EventFollower(
      reader,
      async (events: StoredEvent[]) => {
        seen.push(...events.map((e) => e.position));
        return events[events.length - 1].position;
      },
      { pollIntervalMs: 5, batchSize: 50 },
    );
    follower.start(0);
    // Four pools append at once, with no pause between: a reader that saw a later position before an
    // earlier one committed would leave a hole in what it saw.
    await Promise.all(
      writers.map(async (writer, w) => {
        for (let i = 0; i < 100; i++) await writer.appendToStream(`s-${w}-${i % 10}`, [{ type: 'E', data: { w, i } }], 'any');
      }),
    );
    const head = await reader.headPosition();
    for (let waited = 0; seen[seen.length - 1] !== head && waited < 10_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
    await follower.stop();
    const all = (await reader.readAll(0, { limit: 10_000 })).map((e) => e.position);
    expect(all).toHaveLength(400);
    expect(seen).toEqual(all);
    await Promise.all([...writers, reader].map((s) => s.close()));
  });

  it('commits concurrent appends together, failing only the one whose expected revision is stale', async () => {
    const store = await PostgresEventStore.connect(url);
    await store.appendToStream('k', [{ type: 'A', data: {} }], 'no_stream');
    const results = await Promise.allSettled([
      store.appendToStream('x', [{ type: 'X', data: {} }], 'no_stream'),
      store.appendToStream('k', [{ type: 'B', data: {} }], 0),
      store.appendToStream('k', [{ type: 'C', data: {} }], 0),
      store.appendToStream('y', [{ type: 'Y', data: {} }, { type: 'Y2', data: {} }], 'no_stream'),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((results[2] as PromiseRejectedResult).reason).toBeInstanceOf(ConcurrencyError);
    const all = await store.readAll(0);
    expect(all.map((e) => e.type)).toEqual(['A', 'X', 'B', 'Y', 'Y2']);
    expect((results[3] as PromiseFulfilledResult<{ lastPosition: number }>).value.lastPosition).toBe(all[4].position);
    const verifier = new ChainVerifier();
    expect(all.map((e) => verifier.check(e))).toEqual([null, null, null, null, null]);
    await store.close();
  });

  it('wakes followers in another process through LISTEN/NOTIFY', async () => {
    const writer = await PostgresEventStore.connect(url);
    const reader = await PostgresEventStore.connect(url);
    const woken: number[] = [];
    reader.onAppended((position) => woken.push(position));
    const { lastPosition } = await writer.appendToStream('n-1', [{ type: 'A', data: {} }], 'no_stream');
    for (let waited = 0; !woken.includes(lastPosition) && waited < 5000; waited += 10) await new Promise((r) => setTimeout(r, 10));
    expect(woken).toContain(lastPosition);
    await writer.close();
    await reader.close();
  });

  it('50 appenders over separate connections: one wins the revision, the rest get the port’s ConcurrencyError', async () => {
    const stores = await Promise.all(Array.from({ length: 5 }, () => PostgresEventStore.connect(url)));
    await stores[0].appendToStream('hot', [{ type: 'Start', data: {} }], 'no_stream');
    const outcomes = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => stores[i % 5].appendToStream('hot', [{ type: 'W', data: { i } }], 0)));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(ConcurrencyError);
    await Promise.all(stores.map((s) => s.close()));
  });

  it('an unreachable server is a clear error naming the variable and the address, without the password', async () => {
    const attempt = PostgresEventStore.connect('postgres://someone:hunter2@127.0.0.1:9/nowhere');
    await expect(attempt).rejects.toBeInstanceOf(EventStoreUnavailableError);
    await expect(attempt).rejects.toThrow(/EVENT_STORE=postgres: cannot use PostgreSQL at DATABASE_URL=postgres:\/\/someone:\*\*\*@127\.0\.0\.1:9\/nowhere: ECONNREFUSED/);
  });
});

describe('PostgreSQL tamper evidence', () => {
  const seed = async () => {
    const store = await PostgresEventStore.connect(url);
    await store.appendToStream('k-1', [{ type: 'Created', data: { name: 'a' } }], 'no_stream');
    await store.appendToStream('k-1', [{ type: 'Renamed', data: { name: 'b' } }], 0);
    await store.appendToStream('k-1', [{ type: 'Renamed', data: { name: 'c' } }], 1);
    return store;
  };
  const firstBreak = async (store: PostgresEventStore): Promise<ChainBreak | null> => {
    const verifier = new ChainVerifier();
    for (const event of await store.readAll(0)) {
      const broken = verifier.check(event);
      if (broken) return broken;
    }
    return null;
  };

  it('a row edited in the table breaks the chain at that event', async () => {
    const store = await seed();
    expect(await firstBreak(store)).toBeNull();
    await query(url, `UPDATE events SET data = '{"name":"evil"}' WHERE stream_id = 'k-1' AND revision = 1`);
    expect(await firstBreak(store)).toMatchObject({ streamId: 'k-1', revision: 1, field: 'hash' });
    await store.close();
  });

  it('an edit whose hash was recomputed too is caught at the next event', async () => {
    const store = await seed();
    const [row] = await query<{ prev_hash: string; metadata: unknown }>(url, `SELECT prev_hash, metadata FROM events WHERE stream_id = 'k-1' AND revision = 1`);
    const forged = eventHash(row.prev_hash, { type: 'Renamed', data: { name: 'evil' }, metadata: row.metadata, revision: 1 });
    await query(url, `UPDATE events SET data = '{"name":"evil"}', hash = $1 WHERE stream_id = 'k-1' AND revision = 1`, [forged]);
    expect(await firstBreak(store)).toMatchObject({ streamId: 'k-1', revision: 2, field: 'prevHash', expected: forged });
    await store.close();
  });

  it('a deleted row is caught as a gap in the revisions', async () => {
    const store = await seed();
    await query(url, `DELETE FROM events WHERE stream_id = 'k-1' AND revision = 1`);
    expect(await firstBreak(store)).toMatchObject({ streamId: 'k-1', revision: 2, field: 'revision', expected: '1' });
    await store.close();
  });
});
