import type Database from 'better-sqlite3';
import { KEYS, TestApp, startTestApp } from '../../../../test/support/test-app';
import { PROJECTIONS, Projection } from './projection';
import { ProjectionRunner } from './projection-runner';
import { REBUILD_PREFIX, rebuildAsideAndSwap } from './projection-rebuild';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SqliteEventStore } from '@lib/event-store';
import { AuditEventsProjection } from '../audit/audit-events.projection';
import { SERVICE_STREAM_PREFIXES } from '../stream-categories';
import { KEY_STREAM_PREFIX } from '../keys/domain/model-access-key.events';
import { KeyViewsProjection } from '../keys/key-views.projection';
import { ProviderMock, startProviderMock } from '../../../../test/support/provider-mock';
import { READ_MODEL_DB, openReadModelDatabase } from './read-model.database';

/** Every row of every table of every view, in a stable order. */
function snapshot(t: TestApp): Record<string, unknown[]> {
  const db = t.app.get<Database.Database>(READ_MODEL_DB);
  const out: Record<string, unknown[]> = {};
  for (const projection of t.app.get<Projection[]>(PROJECTIONS)) {
    for (const table of projection.tables) out[table] = db.prepare(`SELECT * FROM ${table} ORDER BY 1, 2`).all();
  }
  return out;
}

describe('projection rebuild: aside, then swapped in', () => {
  let t: TestApp;
  let owner: string;
  let platform: string;
  let openai: ProviderMock;
  beforeAll(async () => {
    openai = await startProviderMock('openai', ['gpt-4o']);
    openai.validKeys.add('sk-proj-rebuild-test-key');
  });
  afterAll(() => openai.close());
  beforeEach(async () => {
    t = await startTestApp({ env: { OPENAI_API_BASE_URL: openai.url } });
    owner = t.token('team-1', 'u1', 'owner');
    platform = t.token('team-1', 'agents', 'service');
  });
  afterEach(() => t.close());

  const activity = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const key = (await t.call('POST', KEYS, { token: owner, body: { name: `k${i}`, expires_at: '2030-01-01' } })).body.api_key_info;
      await t.call('PUT', `${KEYS}/${key.uuid}`, { token: owner, body: { name: `r${i}` } });
      await t.call('POST', `${KEYS}/${key.uuid}/deployments`, { token: owner, body: { deployment_name: 'dep' } });
      if (i % 2 === 0) await t.call('PUT', `${KEYS}/${key.uuid}/regenerate`, { token: owner });
      // Overlaps: some still running, some ended by a second regenerate, some by the delete below.
      if (i % 4 === 1) await t.call('PUT', `${KEYS}/${key.uuid}/regenerate`, { token: owner, body: { grace_period_seconds: 3600 } });
      if (i % 8 === 1) await t.call('PUT', `${KEYS}/${key.uuid}/regenerate`, { token: owner, body: { grace_period_seconds: 60 } });
      if (i % 3 === 0) {
        await t.call('DELETE', `${KEYS}/${key.uuid}/deployments/dep`, { token: owner });
        await t.call('DELETE', `${KEYS}/${key.uuid}`, { token: owner });
      }
      if (i % 5 === 0) {
        const added = await t.call('POST', '/v2/gen-ai/openai/keys', { token: owner, body: { api_key: 'sk-proj-rebuild-test-key', name: `p${i}-${Date.now()}` } });
        const provider = `/v2/gen-ai/openai/keys/${added.body.api_key_info.uuid}`;
        await t.call('PUT', provider, { token: owner, body: { name: `q${i}-${Date.now()}` } });
        const agent = `7f7b6c2e-33a1-4c55-a5f5-8a1f2d9e0c${String(i).padStart(2, '0')}`;
        await t.call('PUT', `${provider}/agents/${agent}`, { token: platform, body: { name: `agent-${i}` } });
        await t.call('GET', `/internal/provider-keys/${added.body.api_key_info.uuid}/secret?agent_uuid=${agent}`, { token: platform });
      }
    }
  };

  it('every read model is identical before and after a rebuild', async () => {
    await activity(30);
    const before = snapshot(t);
    expect(Object.keys(before).sort()).toEqual([
      'audit_events',
      'key_previous_secrets',
      'key_views',
      'provider_key_agents',
      'provider_key_reads',
      'provider_key_views',
      'revocation_key_hashes',
      'revocation_previous_hashes',
      'revocations',
    ]);
    expect(before.key_views.length).toBe(30);
    expect(before.provider_key_views.length).toBe(6);
    expect(before.key_previous_secrets.length).toBeGreaterThan(0);
    expect(before.provider_key_agents.length).toBe(6);
    expect(before.provider_key_reads.length).toBeGreaterThanOrEqual(6);
    const db = t.app.get<Database.Database>(READ_MODEL_DB);
    expect(db.pragma('page_size', { simple: true })).toBe(16384);
    const checkpointEvery = db.pragma('wal_autocheckpoint', { simple: true });
    const result = await t.app.get(ProjectionRunner).rebuild();
    expect(result.views).toEqual(['key_views', 'revocations', 'audit_events', 'provider_key_views', 'key_previous_secrets', 'provider_key_agents', 'provider_key_reads']);
    expect(result.position).toBe(await t.store.headPosition());
    expect(snapshot(t)).toEqual(before);
    // The rebuild's larger WAL allowance was its own: the connection is as it was.
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(checkpointEvery);
  });

  it('commands during a rebuild are all in the views after the swap, and the views keep answering throughout', async () => {
    await activity(10);
    const runner = t.app.get(ProjectionRunner);
    const during = activity(10);
    const answers: number[] = [];
    const polling = (async () => {
      for (let i = 0; i < 20; i++) answers.push((await t.call('GET', KEYS, { token: owner })).status);
    })();
    await runner.rebuild();
    await Promise.all([during, polling]);
    expect(answers.every((status) => status === 200)).toBe(true);
    await runner.waitFor(await t.store.headPosition());
    const afterConcurrent = snapshot(t);
    expect(afterConcurrent.key_views.length).toBe(20);
    await runner.rebuild(['key_views']);
    expect(snapshot(t)).toEqual(afterConcurrent);
  });

  it('applies to the copy what the live views took in after the copy was read, before swapping', async () => {
    await activity(5);
    const runner = t.app.get(ProjectionRunner);
    const db = t.app.get<Database.Database>(READ_MODEL_DB);
    const live = t.app.get<Projection[]>(PROJECTIONS);
    let lateKey = '';
    const result = await rebuildAsideAndSwap(t.store, db, {
      aside: live.map((p) => new (p.constructor as new () => Projection)()),
      live,
      // Another writer and the live runner move on between the copy's last read and the swap.
      beforeSwap: async () => {
        lateKey = (await t.call('POST', KEYS, { token: owner, body: { name: 'late' } })).body.api_key_info.uuid;
        await t.call('PUT', `${KEYS}/${lateKey}/regenerate`, { token: owner });
        await runner.waitFor(await t.store.headPosition());
      },
    });
    expect(result.position).toBe(await t.store.headPosition());
    const swapped = snapshot(t);
    expect(swapped.key_views.some((row) => (row as { key_uuid: string }).key_uuid === lateKey)).toBe(true);
    expect(swapped.revocations.some((row) => (row as { key_uuid: string }).key_uuid === lateKey)).toBe(true);
    await runner.rebuild();
    expect(snapshot(t)).toEqual(swapped);
  });
});

describe('projection rebuild: the SQL worker, and one rebuild at a time', () => {
  let dir: string;
  let store: SqliteEventStore;
  let db: Database.Database;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rebuild-'));
    store = new SqliteEventStore(path.join(dir, 'events.db'));
    db = openReadModelDatabase(dir);
  });
  afterEach(async () => {
    db.close();
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const rows = (table: string) => db.prepare(`SELECT * FROM ${table} ORDER BY 1, 2`).all();
  const fresh = () => [new AuditEventsProjection()];

  it('builds audit_events in SQL exactly as apply does, odd events included', async () => {
    const stream = (n: number) => `${KEY_STREAM_PREFIX}odd-${n}`;
    const odd: Array<[unknown, Record<string, unknown>]> = [
      [{ teamId: 'team-a' }, { actor: { userId: 'u1', teamId: 'team-b' } }],
      [{ teamId: 7 }, { actor: { userId: 'u2', teamId: 'team-b' } }], // not a string: the actor's team
      [{}, { actor: { teamId: 'team-c' } }], // no user
      [{ teamId: null }, { actor: { userId: 3, teamId: 'team-d' } }], // a number is no user
      ['plain', { actor: 'nobody' }], // no team at all: no row
      [[1, 2], {}],
      [{ teamId: 'tëam "quoted" \\ 🔑' }, { actor: { userId: 'ü' } }],
      [null, { actor: { teamId: 'team-e', userId: 'u5' } }],
    ];
    for (const [i, [data, metadata]] of odd.entries()) await store.appendToStream(stream(i), [{ type: `Odd${i}`, data, metadata }], 'no_stream');
    await store.appendToStream('other_category-1', [{ type: 'Elsewhere', data: { teamId: 'team-a' } }], 'no_stream');

    // apply, event by event, as the live runner does
    const live = new AuditEventsProjection();
    live.setup(db);
    for (const event of await store.readAll(0, { streamPrefixes: SERVICE_STREAM_PREFIXES })) live.apply(event);
    const byApply = rows('audit_events');
    expect(byApply).toHaveLength(6);

    const result = await rebuildAsideAndSwap(store, db, { aside: fresh(), live: [live] });
    // Eight events of the service's streams; the checkpoint is the head, past the other category's event.
    expect(result).toEqual({ events: 8, position: await store.headPosition(), views: ['audit_events'] });
    expect(rows('audit_events')).toEqual(byApply);
  });

  it('refuses a second rebuild while one runs, and clears what a crashed one left', async () => {
    await store.appendToStream(`${KEY_STREAM_PREFIX}x`, [{ type: 'Odd', data: { teamId: 't' } }], 'no_stream');
    const live = fresh();
    live[0].setup(db);
    db.exec('CREATE TABLE IF NOT EXISTS projection_rebuilds (pid INTEGER NOT NULL, started_at TEXT NOT NULL)');
    db.prepare('INSERT INTO projection_rebuilds VALUES (?, ?)').run(process.ppid, '2026-11-22T10:00:00.000Z');
    await expect(rebuildAsideAndSwap(store, db, { aside: fresh(), live })).rejects.toThrow(
      `another rebuild is running on these read models (pid ${process.ppid}, since 2026-11-22T10:00:00.000Z)`,
    );

    // A rebuild whose process is gone: its claim and its half-built copy are cleared.
    const gone = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    db.prepare('UPDATE projection_rebuilds SET pid = ?').run(Number(gone.stdout.trim()));
    db.exec(`CREATE TABLE ${REBUILD_PREFIX}audit_events (junk)`);
    const result = await rebuildAsideAndSwap(store, db, { aside: fresh(), live });
    expect(result.views).toEqual(['audit_events']);
    expect(rows('audit_events')).toHaveLength(1);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name GLOB 'rebuilding__*'").all()).toEqual([]);
    expect(db.prepare('SELECT * FROM projection_rebuilds').all()).toEqual([]);
  });

  it('a rebuild that fails drops its copy and lets the next one run', async () => {
    await store.appendToStream(`${KEY_STREAM_PREFIX}x`, [{ type: 'Odd', data: { teamId: 't' } }], 'no_stream');
    const failing = new KeyViewsProjection(); // cannot decode an unknown event type
    await expect(rebuildAsideAndSwap(store, db, { aside: [failing, ...fresh()], live: [new KeyViewsProjection(), ...fresh()] })).rejects.toThrow(
      'Unknown stored event type Odd',
    );
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name GLOB 'rebuilding__*'").all()).toEqual([]);
    expect(db.prepare('SELECT * FROM projection_rebuilds').all()).toEqual([]);
    const result = await rebuildAsideAndSwap(store, db, { aside: fresh(), live: fresh() });
    expect(result.events).toBe(1);
  });
});
