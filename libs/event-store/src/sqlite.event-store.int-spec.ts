import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { ConcurrencyError } from './concurrency.error';
import { ChainBreak, ChainVerifier, eventHash } from './event-hash';
import { eventStoreContract } from './event-store.contract';
import { SqliteEventStore } from './sqlite.event-store';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlite-store-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

eventStoreContract('SQLite', {
  open: async () => new SqliteEventStore(path.join(dir, 'events.db')),
  reopen: async () => new SqliteEventStore(path.join(dir, 'events.db')),
});

describe('SQLite event store group commit', () => {
  it('commits concurrent appends together, failing only the one whose expected revision is stale', async () => {
    const store = new SqliteEventStore(path.join(dir, 'events.db'));
    await store.appendToStream('k', [{ type: 'A', data: {} }], 'no_stream');
    const results = await Promise.allSettled([
      store.appendToStream('x', [{ type: 'X', data: {} }], 'no_stream'),
      store.appendToStream('k', [{ type: 'B', data: {} }], 0),
      store.appendToStream('k', [{ type: 'C', data: {} }], 0),
      store.appendToStream('y', [{ type: 'Y', data: {} }], 'no_stream'),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((results[2] as PromiseRejectedResult).reason).toBeInstanceOf(ConcurrencyError);
    expect((await store.readAll(0)).map((e) => e.type)).toEqual(['A', 'X', 'B', 'Y']);
    await store.close();
  });

  it('sees appends made by another process on the same file', async () => {
    const file = path.join(dir, 'events.db');
    const first = new SqliteEventStore(file);
    const second = new SqliteEventStore(file);
    await first.appendToStream('s', [{ type: 'A', data: {} }], 'no_stream');
    await expect(second.appendToStream('s', [{ type: 'B', data: {} }], 'no_stream')).rejects.toBeInstanceOf(ConcurrencyError);
    await second.appendToStream('s', [{ type: 'B', data: {} }], 0);
    expect((await first.readStream('s')).map((e) => e.type)).toEqual(['A', 'B']);
    await first.close();
    await second.close();
  });
});

describe('SQLite event store replay pages', () => {
  it('makes pages smaller where the bodies are large, and loses or repeats none', async () => {
    const store = new SqliteEventStore(path.join(dir, 'events.db'));
    // 40,000 characters each: after the first page, at most two fit under the reader's page size.
    const big = (i: number) => ({ i, text: String(i % 10).repeat(40_000) });
    for (let i = 0; i < 30; i++) await store.appendToStream(`s-${i}`, [{ type: 'Big', data: big(i) }], 'no_stream');
    await store.appendToStream('s-small', Array.from({ length: 30 }, (_, i) => ({ type: 'Small', data: { i: 30 + i } })), 'no_stream');
    const head = await store.headPosition();
    const pages: number[][] = [];
    for await (const page of store.replayBodies(0, head, { pageSize: 25 })) pages.push(page.map((e) => (e.data as { i: number }).i));
    expect(pages.flat()).toEqual(Array.from({ length: 60 }, (_, i) => i));
    // The first page is read before any size is known; the big events after it come two at a time.
    const bigPages = pages.slice(1).filter((page) => page[0] < 30);
    expect(bigPages.length).toBeGreaterThan(3);
    expect(bigPages.every((page) => page.length <= 2)).toBe(true);
    // Small bodies again: the pages grow back, up to pageSize.
    expect(Math.max(...pages.map((page) => page.length))).toBe(25);
    await store.close();
  });
});

describe('SQLite event store tamper evidence', () => {
  const firstBreak = async (store: SqliteEventStore): Promise<ChainBreak | null> => {
    const verifier = new ChainVerifier();
    for (const event of await store.readAll(0, { limit: 10_000 })) {
      const found = verifier.check(event);
      if (found) return found;
    }
    return null;
  };

  const seed = async () => {
    const file = path.join(dir, 'events.db');
    const store = new SqliteEventStore(file);
    await store.appendToStream('k-1', [{ type: 'Created', data: { name: 'a' } }], 'no_stream');
    await store.appendToStream('k-1', [{ type: 'Renamed', data: { name: 'b' } }], 0);
    await store.appendToStream('k-1', [{ type: 'Renamed', data: { name: 'c' } }], 1);
    await store.close();
    return file;
  };

  it('a row edited in the file breaks the chain at that event', async () => {
    const file = await seed();
    const raw = new Database(file);
    raw.prepare(`UPDATE events SET data = '{"name":"evil"}' WHERE stream_id = 'k-1' AND revision = 1`).run();
    raw.close();
    const store = new SqliteEventStore(file);
    expect(await firstBreak(store)).toMatchObject({ streamId: 'k-1', revision: 1, field: 'hash' });
    await store.close();
  });

  it('an edit whose hash was recomputed too is caught at the next event', async () => {
    const file = await seed();
    const raw = new Database(file);
    const row = raw.prepare(`SELECT * FROM events WHERE stream_id = 'k-1' AND revision = 1`).get() as { prev_hash: string; metadata: string };
    const forged = eventHash(row.prev_hash, { type: 'Renamed', data: { name: 'evil' }, metadata: JSON.parse(row.metadata), revision: 1 });
    raw.prepare(`UPDATE events SET data = '{"name":"evil"}', hash = ? WHERE stream_id = 'k-1' AND revision = 1`).run(forged);
    raw.close();
    const store = new SqliteEventStore(file);
    expect(await firstBreak(store)).toMatchObject({ streamId: 'k-1', revision: 2, field: 'prevHash', expected: forged });
    await store.close();
  });

  it('a deleted row is caught as a gap in the revisions', async () => {
    const file = await seed();
    const raw = new Database(file);
    raw.prepare(`DELETE FROM events WHERE stream_id = 'k-1' AND revision = 1`).run();
    raw.close();
    const store = new SqliteEventStore(file);
    expect(await firstBreak(store)).toMatchObject({ streamId: 'k-1', revision: 2, field: 'revision', expected: '1' });
    await store.close();
  });

  it('a file from before hash chaining gets its chains when opened', async () => {
    const file = path.join(dir, 'events.db');
    const raw = new Database(file);
    raw.exec(`CREATE TABLE events (position INTEGER PRIMARY KEY AUTOINCREMENT, stream_id TEXT NOT NULL, revision INTEGER NOT NULL,
      type TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT NOT NULL, recorded_at TEXT NOT NULL, UNIQUE (stream_id, revision))`);
    const insert = raw.prepare('INSERT INTO events (stream_id, revision, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?)');
    insert.run('old', 0, 'A', '{"x":1}', '{}', '2026-01-01T00:00:00.000Z');
    insert.run('old', 1, 'B', '{"x":2}', '{}', '2026-01-01T00:00:00.000Z');
    raw.close();
    const store = new SqliteEventStore(file);
    await store.appendToStream('old', [{ type: 'C', data: {} }], 1);
    expect(await firstBreak(store)).toBeNull();
    expect((await store.readStream('old')).map((e) => e.prevHash === null)).toEqual([true, false, false]);
    await store.close();
  });
});
