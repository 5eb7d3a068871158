import type Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InMemoryEventStore, StoreUnavailableError, StoredEvent } from '@lib/event-store';
import { loadConfig } from '../config/app.config';
import { StorageHealth } from '../health/storage-health';
import { KEY_STREAM_PREFIX } from '../keys/domain/model-access-key.events';
import { EventProjection } from './projection';
import { ProjectionRunner } from './projection-runner';
import { openReadModelDatabase } from './read-model.database';
import { Metrics } from '../observability/metrics';

/** A view whose writes fail as SQLite's do on a full disk while `full` is set. */
class FlakyDiskProjection implements EventProjection {
  readonly name = 'flaky_disk';
  readonly version = 1;
  readonly tables = ['flaky_disk'];
  readonly reads = 'events';
  full = false;

  setup(db: Database.Database): void {
    db.exec('CREATE TABLE IF NOT EXISTS flaky_disk (position INTEGER PRIMARY KEY)');
  }

  reset(db: Database.Database): void {
    db.exec('DROP TABLE IF EXISTS flaky_disk');
  }

  apply(event: StoredEvent, db: Database.Database): void {
    if (this.full) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    db.prepare('INSERT INTO flaky_disk (position) VALUES (?)').run(event.position);
  }
}

/** Settles within `ms`, or says it did not. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | 'still waiting'> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<'still waiting'>((r) => (timer = setTimeout(() => r('still waiting'), ms)))]).finally(() => clearTimeout(timer));
}

describe('ProjectionRunner when the views cannot be written', () => {
  let dir: string;
  let db: Database.Database;
  let store: InMemoryEventStore;
  let projection: FlakyDiskProjection;
  let storage: StorageHealth;
  let runner: ProjectionRunner;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'projection-runner-'));
    db = openReadModelDatabase(dir);
    store = new InMemoryEventStore();
    projection = new FlakyDiskProjection();
    storage = new StorageHealth(loadConfig({ DATA_DIR: dir, NODE_ENV: 'test' }));
    runner = new ProjectionRunner(store, db, [projection], storage, new Metrics());
    runner.onApplicationBootstrap();
  });

  afterEach(async () => {
    await runner.onApplicationShutdown();
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const append = async (id: string) => (await store.appendToStream(`${KEY_STREAM_PREFIX}${id}`, [{ type: 'Anything', data: {} }], 'no_stream')).lastPosition;

  it('answers a command waiting for its events with StoreUnavailableError, says so on /readyz, and recovers by itself', async () => {
    await runner.waitFor(await append('a'));

    projection.full = true;
    const position = await append('b');
    const waited = await within(
      runner.waitFor(position).catch((error: unknown) => error),
      3000,
    );
    expect(waited).toBeInstanceOf(StoreUnavailableError);
    expect((waited as StoreUnavailableError).reason).toBe('disk full (SQLITE_FULL)');
    expect((waited as Error).message).toContain('the change is in the event log');
    // While the views cannot be written, a new waiter is answered at once.
    await expect(within(runner.waitFor(position), 50)).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(await storage.cannotWrite()).toBe('read models: disk full (SQLITE_FULL)');

    // The runner retries the batch every second: once it commits, the views include the event.
    projection.full = false;
    for (const deadline = Date.now() + 3000; runner.checkpoint < position && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
    expect(await within(runner.waitFor(position), 50)).toBeUndefined();
    expect(await storage.cannotWrite()).toBeNull();
    expect(db.prepare('SELECT COUNT(*) AS n FROM flaky_disk').get()).toEqual({ n: 2 });
  });
});
