import type Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EventStore, NewEvent } from '@lib/event-store';
import { KEYS, TestApp, startTestApp } from '../../../../test/support/test-app';
import { keyStreamId } from '../keys/domain/model-access-key.events';
import { PROJECTIONS, Projection } from './projection';
import { BULK_CATCH_UP_MIN_EVENTS, CatchUpMode, ProjectionRunner, takesBulkCatchUp } from './projection-runner';
import { READ_MODEL_DB } from './read-model.database';

/** Every row of every table of every view, and every checkpoint, in a stable order. */
function snapshot(t: TestApp): { tables: Record<string, unknown[]>; checkpoints: unknown[] } {
  const db = t.app.get<Database.Database>(READ_MODEL_DB);
  const tables: Record<string, unknown[]> = {};
  for (const projection of t.app.get<Projection[]>(PROJECTIONS)) {
    for (const table of projection.tables) tables[table] = db.prepare(`SELECT * FROM ${table} ORDER BY 1, 2`).all();
  }
  return { tables, checkpoints: db.prepare('SELECT name, position FROM projection_checkpoints ORDER BY name').all() };
}

const uuidOf = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
const hex = (i: number, salt: string) => `${salt}${String(i).padStart(63, '0')}`.slice(-64);
const metadata = (i: number) => ({ actor: { userId: `u${i % 7}`, role: 'owner', teamId: `team-${i % 3}` }, requestId: `r-${i}`, correlationId: `r-${i}`, causationId: null, sourceIp: null, userAgent: null });

/** The i-th key's events, written straight to the log: created, then renamed, regenerated or deleted by turns. */
function keyEvents(i: number): NewEvent[] {
  const base = { keyUuid: uuidOf(i), teamId: `team-${i % 3}` };
  const at = '2026-11-30T10:00:00.000Z';
  const events: NewEvent[] = [
    {
      type: 'ModelAccessKeyCreated',
      data: { ...base, createdBy: `u${i % 7}`, name: `key-${i}`, models: i % 2 === 0 ? 'all' : ['m-1'], vpcUuid: null, batchInferenceEnabled: false,
        description: null, expiresAt: i % 4 === 0 ? '2031-01-01T00:00:00.000Z' : null, secretHash: hex(i, 'a'), secretPrefix: 'mak_aaaaaaaa', createdAt: at },
      metadata: metadata(i),
    },
  ];
  if (i % 2 === 1) events.push({ type: 'ModelAccessKeyRenamed', data: { ...base, name: `key-${i}-renamed`, renamedAt: at }, metadata: metadata(i) });
  if (i % 3 === 0) {
    events.push({ type: 'ModelAccessKeySecretRegenerated', data: { ...base, revokedSecretHash: hex(i, 'a'), secretHash: hex(i, 'b'), secretPrefix: 'mak_bbbbbbbb', regeneratedAt: at }, metadata: metadata(i) });
  }
  if (i % 5 === 0) events.push({ type: 'ModelAccessKeyDeleted', data: { ...base, revokedSecretHash: hex(i, i % 3 === 0 ? 'b' : 'a'), deletedAt: at }, metadata: metadata(i) });
  return events;
}

/** Keys `from` to `to` (exclusive), each stream appended in one call, a hundred calls at a time; the head after. */
async function appendKeys(store: EventStore, from: number, to: number): Promise<number> {
  for (let first = from; first < to; first += 100) {
    const last = Math.min(first + 100, to);
    await Promise.all(Array.from({ length: last - first }, (_, k) => store.appendToStream(keyStreamId(uuidOf(first + k)), keyEvents(first + k), 'no_stream')));
  }
  return store.headPosition();
}

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

  it('the threshold: empty views over 10,000 events or more, or a tenth of the log behind; not a restart a few events behind', () => {
    expect(takesBulkCatchUp(0, 9_999)).toBe(false);
    expect(takesBulkCatchUp(0, 10_000)).toBe(true);
    expect(takesBulkCatchUp(990_000, 1_000_000)).toBe(false);
    expect(takesBulkCatchUp(850_000, 1_000_000)).toBe(true);
    expect(takesBulkCatchUp(1_000_000, 1_000_000)).toBe(false);
  });
});
