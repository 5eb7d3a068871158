import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EventStoreObserver } from './group-commit';
import { SqliteEventStore } from './sqlite.event-store';

describe('SQLite event store observer (what the metrics record)', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlite-observer-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reports one group commit of every append that arrived in the same tick, and each append with its outcome', async () => {
    const store = new SqliteEventStore(path.join(dir, 'events.db'));
    const appended: Array<{ seconds: number; outcome: string }> = [];
    const commits: number[] = [];
    const observer: EventStoreObserver = {
      appended: (seconds, outcome) => appended.push({ seconds, outcome }),
      groupCommitted: (appends) => commits.push(appends),
    };
    await store.appendToStream('k', [{ type: 'A', data: {} }], 'no_stream');
    store.observe(observer);
    await Promise.allSettled([
      store.appendToStream('x', [{ type: 'X', data: {} }], 'no_stream'),
      store.appendToStream('k', [{ type: 'B', data: {} }], 0),
      store.appendToStream('k', [{ type: 'C', data: {} }], 0),
    ]);
    await store.appendToStream('y', [{ type: 'Y', data: {} }], 'no_stream');
    await store.close();

    expect(commits).toEqual([3, 1]);
    expect(appended.map((a) => a.outcome).sort()).toEqual(['conflict', 'ok', 'ok', 'ok']);
    for (const { seconds } of appended) expect(seconds).toBeGreaterThanOrEqual(0);
  });
});
