import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConcurrencyError } from './concurrency.error';
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
