import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { KEYS, TestApp, startTestApp } from '../../../../test/support/test-app';
import { appendKeys, snapshot } from '../../../../test/support/bulk-catch-up';
import { BULK_CATCH_UP_MIN_EVENTS, CatchUpMode, ProjectionRunner, takesBulkCatchUp } from './projection-runner';

/** The DATA_DIR's SQLite files (the log, the views, and their WAL files) copied to a new directory, the views left out if asked. */
function copyDataDir(from: string, withViews: boolean): string {
  const to = fs.mkdtempSync(path.join(os.tmpdir(), 'bulk-catch-up-'));
  for (const name of fs.readdirSync(from)) {
    if (!withViews && name.startsWith('read-models.db')) continue;
    fs.cpSync(path.join(from, name), path.join(to, name), { recursive: true });
  }
  return to;
}

describe('a fresh instance far behind the log catches up in bulk', () => {
  const dirs: string[] = [];
  const apps: TestApp[] = [];
  const start = async (dataDir: string) => {
    const t = await startTestApp({}, dataDir);
    apps.push(t);
    return t;
  };
  afterAll(async () => {
    for (const t of apps) await t.app.close().catch(() => undefined);
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('takes the bulk path, ends with exactly the views of an event-by-event catch-up, and misses nothing appended meanwhile', async () => {
    // The reference: views built event by event, by a runner following the log while it grows.
    const following = await start(fs.mkdtempSync(path.join(os.tmpdir(), 'bulk-catch-up-')));
    dirs.push(following.dataDir);
    const owner = following.token('team-1', 'u1', 'owner');
    const created = (await following.call('POST', KEYS, { token: owner, body: { name: 'through-the-api', models: ['m-1'] } })).body.api_key_info;
    const head = await appendKeys(following.store, 0, 5_000);
    expect(head).toBeGreaterThanOrEqual(BULK_CATCH_UP_MIN_EVENTS);
    await following.app.get(ProjectionRunner).waitFor(head);
    await following.app.close();

    // A fresh instance: the same log, no views.
    const freshDir = copyDataDir(following.dataDir, false);
    dirs.push(freshDir);
    const fresh = await start(freshDir);
    const runner = fresh.app.get(ProjectionRunner);
    let settled: CatchUpMode | null = null;
    void runner.startUp.then((mode) => (settled = mode));
    // Appended while the rebuild runs: after the head it builds up to, before the follower starts.
    const later = await appendKeys(fresh.store, 5_000, 5_030);
    expect(settled).toBeNull();
    expect(await runner.startUp).toBe('bulk');
    await runner.waitFor(later);
    expect(runner.checkpoint).toBe(later);
    expect((await fresh.call('GET', '/readyz')).body).toMatchObject({ status: 'ready', store_position: later, projection_checkpoint: later });

    // The verification lookup was loaded again from the swapped-in views.
    const gateway = fresh.token('team-1', 'gw', 'gateway');
    const verified = await fresh.call('POST', '/v1/keys/verify', { token: gateway, body: { key: created.secret_key, model: 'm-1' } });
    expect(verified.body).toMatchObject({ valid: true, key_uuid: created.uuid });
    const bulk = snapshot(fresh);
    await fresh.app.close();

    // The reference instance takes in the same later events, event by event (a few behind: no bulk).
    fs.cpSync(path.join(freshDir, 'events.db'), path.join(following.dataDir, 'events.db'));
    for (const wal of ['events.db-wal', 'events.db-shm']) fs.rmSync(path.join(following.dataDir, wal), { force: true });
    const restarted = await start(following.dataDir);
    const reference = restarted.app.get(ProjectionRunner);
    expect(await reference.startUp).toBe('events');
    await reference.waitFor(later);
    const eventByEvent = snapshot(restarted);
    expect(bulk.tables.key_views.length).toBe(5_031);
    expect(bulk).toEqual(eventByEvent);
    expect(bulk.checkpoints).toEqual(eventByEvent.checkpoints.map((row) => ({ ...(row as object), position: later })));
  });

  it('a view stored under an older version is rebuilt in bulk at start-up, and ends as it was', async () => {
    const t = await start(fs.mkdtempSync(path.join(os.tmpdir(), 'bulk-catch-up-')));
    dirs.push(t.dataDir);
    const head = await appendKeys(t.store, 0, 5_000);
    await t.app.get(ProjectionRunner).waitFor(head);
    const before = snapshot(t);
    await t.app.close();
    const db = new Database(path.join(t.dataDir, 'read-models.db'));
    db.prepare("UPDATE projection_versions SET version = 1 WHERE name = 'key_views'").run();
    db.close();

    const restarted = await start(t.dataDir);
    const runner = restarted.app.get(ProjectionRunner);
    expect(await runner.startUp).toBe('bulk');
    expect(restarted.app.get(ProjectionRunner).checkpoint).toBe(head);
    expect(snapshot(restarted)).toEqual(before);
  });

  it('the threshold: empty views over 10,000 events or more, or a tenth of the log behind; not a restart a few events behind', () => {
    expect(takesBulkCatchUp(0, 9_999)).toBe(false);
    expect(takesBulkCatchUp(0, 10_000)).toBe(true);
    expect(takesBulkCatchUp(990_000, 1_000_000)).toBe(false);
    expect(takesBulkCatchUp(850_000, 1_000_000)).toBe(true);
    expect(takesBulkCatchUp(1_000_000, 1_000_000)).toBe(false);
  });
});
