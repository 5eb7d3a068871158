import Database from 'better-sqlite3';
import * as path from 'node:path';
import { KEYS, TestApp, startTestApp } from '../../../../test/support/test-app';

const pause = () => new Promise((r) => setTimeout(r, 15));

describe('the audit API', () => {
  let t: TestApp;
  let owner: string;
  let auditor: string;
  beforeEach(async () => {
    t = await startTestApp();
    owner = t.token('team-1', 'u1', 'owner');
    auditor = t.token('team-1', 'a1', 'auditor');
  });
  afterEach(() => t.close());

  const lifecycle = async () => {
    const headers = { 'x-request-id': 'req-create-1', 'user-agent': 'audit-test/1' };
    const created = await t.call('POST', KEYS, { token: owner, body: { name: 'k' }, headers });
    const uuid = created.body.api_key_info.uuid as string;
    const secrets = [created.body.api_key_info.secret_key as string];
    const times: Record<string, string> = {};
    await pause();
    times.afterCreate = new Date().toISOString();
    await pause();
    await t.call('PUT', `${KEYS}/${uuid}`, { token: owner, body: { name: 'renamed' } });
    const regenerated = await t.call('PUT', `${KEYS}/${uuid}/regenerate`, { token: owner });
    secrets.push(regenerated.body.api_key_info.secret_key);
    await pause();
    times.afterRegenerate = new Date().toISOString();
    await pause();
    await t.call('DELETE', `${KEYS}/${uuid}`, { token: owner });
    await pause();
    times.afterDelete = new Date().toISOString();
    return { uuid, secrets, times };
  };

  it("a key's whole history, deleted included: metadata, revision, position and hash, never a secret", async () => {
    const { uuid, secrets } = await lifecycle();
    const res = await t.call('GET', `/v1/audit/keys/${uuid}/events`, { token: auditor });
    expect(res.status).toBe(200);
    const events = res.body.events;
    expect(events.map((e: { type: string }) => e.type)).toEqual([
      'ModelAccessKeyCreated',
      'ModelAccessKeyRenamed',
      'ModelAccessKeySecretRegenerated',
      'ModelAccessKeyDeleted',
    ]);
    expect(events.map((e: { revision: number }) => e.revision)).toEqual([0, 1, 2, 3]);
    expect(events[0].metadata).toMatchObject({
      actor: { userId: 'u1', role: 'owner', teamId: 'team-1' },
      requestId: 'req-create-1',
      correlationId: 'req-create-1',
      userAgent: 'audit-test/1',
    });
    expect(events[0].metadata.sourceIp).toBeTruthy();
    expect(events[0].prev_hash).toBeNull();
    for (let i = 1; i < events.length; i++) {
      expect(events[i].prev_hash).toBe(events[i - 1].hash);
      expect(events[i].position).toBeGreaterThan(events[i - 1].position);
    }
    const text = JSON.stringify(events);
    for (const secret of secrets) expect(text).not.toContain(secret);
  });

  it('the state of a key at an instant: before it existed, after creation, after a regenerate, after delete', async () => {
    const { uuid, times } = await lifecycle();
    const at = async (asOf: string) => (await t.call('GET', `/v1/audit/keys/${uuid}/state?as_of=${encodeURIComponent(asOf)}`, { token: owner })).body;
    expect(await at('2020-01-01T00:00:00Z')).toMatchObject({ existed: false, key: null });
    expect(await at(times.afterCreate)).toMatchObject({ existed: true, deleted: false, secret_generation: 1, revision: 0, key: { name: 'k' } });
    expect(await at(times.afterRegenerate)).toMatchObject({ existed: true, secret_generation: 2, revision: 2, key: { name: 'renamed' } });
    expect(await at(times.afterDelete)).toMatchObject({ existed: true, deleted: true, secret_generation: null, revision: 3 });
    const bad = await t.call('GET', `/v1/audit/keys/${uuid}/state?as_of=yesterday`, { token: owner });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/^as_of /);
  });

  it("the team's events in global order, paged by position and filtered by type and actor; other teams' stay out", async () => {
    const { uuid } = await lifecycle();
    const other = t.token('team-2', 'x1', 'owner');
    const foreign = (await t.call('POST', KEYS, { token: other, body: { name: 'theirs' } })).body.api_key_info.uuid;
    await t.call('PUT', `${KEYS}/${uuid.replace(/.$/, '0')}`, { token: owner, body: { name: 'x' } });

    const all = (await t.call('GET', '/v1/audit/events', { token: auditor })).body;
    expect(all.events).toHaveLength(4);
    expect(all.events.every((e: { stream_id: string }) => e.stream_id.endsWith(uuid))).toBe(true);
    const page = (await t.call('GET', `/v1/audit/events?after=${all.events[0].position}&limit=2`, { token: auditor })).body;
    expect(page.events.map((e: { position: number }) => e.position)).toEqual(all.events.slice(1, 3).map((e: { position: number }) => e.position));
    expect(page.next_after).toBe(all.events[2].position);
    const byType = (await t.call('GET', '/v1/audit/events?type=ModelAccessKeyDeleted', { token: auditor })).body;
    expect(byType.events.map((e: { type: string }) => e.type)).toEqual(['ModelAccessKeyDeleted']);
    expect((await t.call('GET', '/v1/audit/events?actor=nobody', { token: auditor })).body.events).toEqual([]);
    expect((await t.call('GET', '/v1/audit/events?actor=u1', { token: auditor })).body.events).toHaveLength(4);

    expect((await t.call('GET', `/v1/audit/keys/${foreign}/events`, { token: auditor })).status).toBe(404);
    expect((await t.call('GET', `/v1/audit/keys/${uuid}/events`, { token: other })).status).toBe(404);
  });

  it("a key's hash chain: intact as written, its head the last event's hash; an event changed in the store is the first break", async () => {
    const { uuid } = await lifecycle();
    const history = (await t.call('GET', `/v1/audit/keys/${uuid}/events`, { token: auditor })).body.events;
    const intact = await t.call('GET', `/v1/audit/keys/${uuid}/chain`, { token: auditor });
    expect(intact.status).toBe(200);
    expect(intact.body).toEqual({
      stream_id: `model_access_key-${uuid}`,
      events: 4,
      head_revision: 3,
      head_hash: history[3].hash,
      intact: true,
      broken: null,
      hash_algorithm: 'SHA-256',
      canonicalization: 'RFC 8785',
    });

    const db = new Database(path.join(t.dataDir, 'events.db'));
    db.prepare(`UPDATE events SET data = replace(data, '"renamed"', '"forged"') WHERE stream_id = ? AND revision = 1`).run(`model_access_key-${uuid}`);
    db.close();
    const broken = await t.call('GET', `/v1/audit/keys/${uuid}/chain`, { token: owner });
    expect(broken.body).toMatchObject({ intact: false, events: 4, head_hash: history[3].hash, broken: { revision: 1, field: 'hash', found: history[1].hash } });
    expect(broken.body.broken.message).toContain(`chain broken in stream model_access_key-${uuid} at revision 1`);

    expect((await t.call('GET', `/v1/audit/keys/${uuid}/chain`, { token: t.token('team-2', 'o2', 'owner') })).status).toBe(404);
    expect((await t.call('GET', `/v1/audit/keys/${uuid}/chain`, { token: t.token('team-1', 'm', 'member') })).status).toBe(403);
    expect((await t.call('GET', `/v1/audit/keys/${uuid}/chain`)).status).toBe(401);
    expect((await t.call('GET', `/v1/audit/keys/${uuid}/chain`, { token: 'not-a-token' })).status).toBe(401);
  });

  it('owners and auditors only', async () => {
    const { uuid } = await lifecycle();
    expect((await t.call('GET', `/v1/audit/keys/${uuid}/events`, { token: t.token('team-1', 'm', 'member') })).status).toBe(403);
    expect((await t.call('GET', '/v1/audit/events', { token: t.token('team-1', 'g', 'gateway') })).status).toBe(403);
    expect((await t.call('GET', '/v1/audit/events')).status).toBe(401);
    expect((await t.call('GET', '/v1/audit/events?limit=5000', { token: owner })).body.message).toMatch(/^limit /);
  });
});
