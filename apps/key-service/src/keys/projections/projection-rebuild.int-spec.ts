import type Database from 'better-sqlite3';
import { KEYS, TestApp, startTestApp } from '../../../../../test/support/test-app';
import { PROJECTIONS, Projection } from './projection';
import { ProjectionRunner } from './projection-runner';
import { rebuildAsideAndSwap } from './projection-rebuild';
import * as path from 'node:path';
import { ProviderMock, startProviderMock } from '../../../../../test/support/provider-mock';
import { READ_MODEL_DB } from './read-model.database';

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
  let openai: ProviderMock;
  beforeAll(async () => {
    openai = await startProviderMock('openai', ['gpt-4o']);
    openai.validKeys.add('sk-proj-rebuild-test-key');
  });
  afterAll(() => openai.close());
  beforeEach(async () => {
    t = await startTestApp({ env: { OPENAI_API_BASE_URL: openai.url } });
    owner = t.token('team-1', 'u1', 'owner');
  });
  afterEach(() => t.close());

  const activity = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const key = (await t.call('POST', KEYS, { token: owner, body: { name: `k${i}`, expires_at: '2030-01-01' } })).body.api_key_info;
      await t.call('PUT', `${KEYS}/${key.uuid}`, { token: owner, body: { name: `r${i}` } });
      await t.call('POST', `${KEYS}/${key.uuid}/deployments`, { token: owner, body: { deployment_name: 'dep' } });
      if (i % 2 === 0) await t.call('PUT', `${KEYS}/${key.uuid}/regenerate`, { token: owner });
      if (i % 3 === 0) {
        await t.call('DELETE', `${KEYS}/${key.uuid}/deployments/dep`, { token: owner });
        await t.call('DELETE', `${KEYS}/${key.uuid}`, { token: owner });
      }
      if (i % 5 === 0) {
        const added = await t.call('POST', '/v2/gen-ai/openai/keys', { token: owner, body: { api_key: 'sk-proj-rebuild-test-key', name: `p${i}-${Date.now()}` } });
        await t.call('PUT', `/v2/gen-ai/openai/keys/${added.body.api_key_info.uuid}`, { token: owner, body: { name: `q${i}-${Date.now()}` } });
      }
    }
  };

  it('every read model is identical before and after a rebuild', async () => {
    await activity(30);
    const before = snapshot(t);
    expect(Object.keys(before).sort()).toEqual(['audit_events', 'key_views', 'provider_key_views', 'revocation_key_hashes', 'revocations']);
    expect(before.key_views.length).toBe(30);
    expect(before.provider_key_views.length).toBe(6);
    const result = await t.app.get(ProjectionRunner).rebuild();
    expect(result.views).toEqual(['key_views', 'revocations', 'audit_events', 'provider_key_views']);
    expect(result.position).toBe(await t.store.headPosition());
    expect(snapshot(t)).toEqual(before);
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
      dataDir: path.dirname(db.name),
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
