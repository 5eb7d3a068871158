import { randomBytes } from 'node:crypto';
import { ProviderMock, filesContaining, startProviderMock } from '../../../../test/support/provider-mock';
import { TestApp, startTestApp } from '../../../../test/support/test-app';
import { DataKeyDestroyedError, Envelope, SealedSecret } from '../crypto/envelope';

const ANTHROPIC = '/v2/gen-ai/anthropic/keys';
const OPENAI = '/v2/gen-ai/openai/keys';
const SECRET = (uuid: string) => `/internal/provider-keys/${uuid}/secret`;
const anthropicKey = () => `sk-ant-api03-${randomBytes(24).toString('base64url')}`;
const openaiKey = () => `sk-proj-${randomBytes(24).toString('base64url')}`;

describe('partner provider keys', () => {
  let anthropic: ProviderMock;
  let openai: ProviderMock;
  let t: TestApp;
  let owner: string;
  let service: string;
  /** Every plaintext these tests handed the service: none may be found in its files afterwards. */
  const used: string[] = [];
  const valid = (mock: ProviderMock, key: string) => {
    mock.validKeys.add(key);
    used.push(key);
    return key;
  };

  beforeAll(async () => {
    anthropic = await startProviderMock('anthropic', ['claude-sonnet-4-5', 'claude-haiku-4-5']);
    openai = await startProviderMock('openai', ['gpt-4o', 'gpt-4o-mini']);
  });
  afterAll(async () => {
    await anthropic.close();
    await openai.close();
  });
  beforeEach(async () => {
    t = await startTestApp({ env: { ANTHROPIC_API_BASE_URL: anthropic.url, OPENAI_API_BASE_URL: `${openai.url}/` } });
    owner = t.token('team-1', 'u1', 'owner');
    service = t.token('team-1', 'agents', 'service');
    anthropic.failWith = null;
  });
  afterEach(async () => {
    await t.close({ keepData: true });
    // The event log, the views, the data-key store, their WAL and journal files: no plaintext anywhere.
    expect(filesContaining(t.dataDir, used)).toEqual([]);
    await t.close();
  });

  const add = (path: string, body: unknown, token = owner) => t.call('POST', path, { token, body });
  const providerEvents = async () => (await t.store.readAll(0)).filter((e) => !e.streamId.startsWith('model_access_key-'));

  it('verifies a key with the provider before storing it, and never returns it', async () => {
    const key = valid(anthropic, anthropicKey());
    const created = await add(ANTHROPIC, { api_key: key, name: 'prod-claude' });
    expect(created.status).toBe(200);
    expect(created.body).toEqual({
      api_key_info: { uuid: expect.any(String), name: 'prod-claude', created_at: expect.any(String), created_by: 'u1', updated_at: expect.any(String), deleted_at: null },
    });
    const seen = anthropic.requests[anthropic.requests.length - 1];
    expect(seen.path).toBe('/v1/models');
    expect(seen.headers['x-api-key']).toBe(key);
    expect(seen.headers['anthropic-version']).toBe('2023-06-01');
    const uuid = created.body.api_key_info.uuid;
    const list = await t.call('GET', ANTHROPIC, { token: owner });
    expect(list.body).toMatchObject({ api_key_infos: [{ uuid, name: 'prod-claude' }], meta: { page: 1, pages: 1, total: 1 } });
    expect((await t.call('GET', `${ANTHROPIC}/${uuid}`, { token: owner })).body.api_key_info.uuid).toBe(uuid);
    expect((await t.call('GET', `${OPENAI}/${uuid}`, { token: owner })).status).toBe(404);
    expect(JSON.stringify([created.body, list.body])).not.toContain(key.slice(12));
    // The scan after each test reads what is stored: here it finds the key's name.
    expect(filesContaining(t.dataDir, ['prod-claude']).length).toBeGreaterThan(0);
  });

  it('OpenAI keys carry the models the provider listed, verified with a bearer token', async () => {
    const key = valid(openai, openaiKey());
    const created = await add(OPENAI, { api_key: key, name: 'openai.main' });
    expect(created.body.api_key_info.models).toEqual(['gpt-4o', 'gpt-4o-mini']);
    expect(openai.requests[openai.requests.length - 1].headers.authorization).toBe(`Bearer ${key}`);
  });

  it('a rejected key is 422 and an unreachable or failing provider 502, with nothing stored', async () => {
    const wrong = anthropicKey();
    used.push(wrong);
    const rejected = await add(ANTHROPIC, { api_key: wrong, name: 'bad' });
    expect(rejected.status).toBe(422);
    expect(rejected.body.message).toContain('rejected');
    const openaiWrong = openaiKey();
    used.push(openaiWrong);
    const refused = await add(OPENAI, { api_key: openaiWrong, name: 'bad' });
    expect(refused.status).toBe(422);
    expect(JSON.stringify(refused.body)).not.toContain(openaiWrong.slice(-4));
    anthropic.failWith = 503;
    const failing = await add(ANTHROPIC, { api_key: valid(anthropic, anthropicKey()), name: 'later' });
    expect(failing.status).toBe(502);
    const down = await startTestApp({ env: { ANTHROPIC_API_BASE_URL: 'http://127.0.0.1:9', PROVIDER_VERIFY_TIMEOUT_MS: '2000' } });
    try {
      const unreachable = await down.call('POST', ANTHROPIC, { token: owner, body: { api_key: anthropicKey(), name: 'later' } });
      expect(unreachable.status).toBe(502);
      expect(unreachable.body.message).toContain('could not reach anthropic');
      expect(await down.store.readAll(0)).toEqual([]);
    } finally {
      await down.close();
    }
    expect(await providerEvents()).toEqual([]);
    expect((await t.call('GET', ANTHROPIC, { token: owner })).body.meta.total).toBe(0);
  });

  it('names: lowercase letters, digits, hyphens and periods, never the key, unique per team and provider', async () => {
    const key = valid(anthropic, anthropicKey());
    const name400 = async (name: string, apiKey = key) => {
      const res = await add(ANTHROPIC, { api_key: apiKey, name });
      expect(res.status).toBe(400);
      expect(res.body.message).toContain('name');
    };
    await name400('Prod');
    await name400('prod key');
    await name400('sk-ant-api03-abc');
    const lowerKey = `a1b2c3d4e5f6g7h8i9j0k1l2m3n4`;
    valid(anthropic, lowerKey);
    await name400(lowerKey, lowerKey);
    await name400('team.a1b2c3d4e5f6g7h8i9j0k1l2m3');
    // A name that breaks no rule of its own but holds the key given with it: a rule across two fields (422).
    const shortKey = valid(anthropic, 'plainkeyvalue');
    const holding = await add(ANTHROPIC, { api_key: shortKey, name: 'my.plainkeyvalue' });
    expect(holding.status).toBe(422);
    expect(holding.body).toMatchObject({ code: 'NAME_CONTAINS_KEY', details: { field: 'name' } });
    expect((await add(ANTHROPIC, { api_key: key, name: 'shared.name' })).status).toBe(200);
    expect((await add(ANTHROPIC, { api_key: key, name: 'shared.name' })).status).toBe(409);
    expect((await add(OPENAI, { api_key: valid(openai, openaiKey()), name: 'shared.name' })).status).toBe(200);
    const other = t.token('team-2', 'u2', 'owner');
    expect((await add(ANTHROPIC, { api_key: key, name: 'shared.name' }, other)).status).toBe(200);
    const racing = await Promise.all(Array.from({ length: 6 }, () => add(ANTHROPIC, { api_key: key, name: 'race' })));
    expect(racing.map((r) => r.status).sort()).toEqual([200, 409, 409, 409, 409, 409]);
  });

  it('PUT renames and replaces the key, verified again; the old secret is unreadable after', async () => {
    const first = valid(anthropic, anthropicKey());
    const { uuid } = (await add(ANTHROPIC, { api_key: first, name: 'rotating' })).body.api_key_info;
    const sealedBefore = (await providerEvents())[1].data as { sealedSecret: SealedSecret };
    const wrong = anthropicKey();
    used.push(wrong);
    expect((await t.call('PUT', `${ANTHROPIC}/${uuid}`, { token: owner, body: { api_key: wrong } })).status).toBe(422);
    expect((await t.call('GET', SECRET(uuid), { token: service })).body.api_key).toBe(first);

    const second = valid(anthropic, anthropicKey());
    const put = await t.call('PUT', `${ANTHROPIC}/${uuid}`, { token: owner, body: { api_key_uuid: uuid, api_key: second, name: 'rotated' } });
    expect(put.status).toBe(200);
    expect(put.body.api_key_info).toMatchObject({ uuid, name: 'rotated' });
    expect(anthropic.requests[anthropic.requests.length - 1].headers['x-api-key']).toBe(second);
    expect((await t.call('GET', SECRET(uuid), { token: service })).body).toEqual({ uuid, provider: 'anthropic', name: 'rotated', api_key: second });
    await expect(t.app.get(Envelope).open(sealedBefore.sealedSecret, uuid, `provider_key:${uuid}`)).rejects.toBeInstanceOf(DataKeyDestroyedError);
    // The old name is free again, the new one taken.
    expect((await add(ANTHROPIC, { api_key: second, name: 'rotating' })).status).toBe(200);
    expect((await add(ANTHROPIC, { api_key: second, name: 'rotated' })).status).toBe(409);
    const mismatch = await t.call('PUT', `${ANTHROPIC}/${uuid}`, { token: owner, body: { api_key_uuid: '6f1f5c3e-1111-4111-8111-111111111111', name: 'x' } });
    expect(mismatch.body.message).toContain('api_key_uuid');
    expect((await t.call('PUT', `${ANTHROPIC}/${uuid}`, { token: owner, body: {} })).status).toBe(400);
  });

  it('only role service reads a plaintext, of its own team, and every read is an audited event', async () => {
    const key = valid(openai, openaiKey());
    const { uuid } = (await add(OPENAI, { api_key: key, name: 'agents' })).body.api_key_info;
    const read = await t.call('GET', SECRET(uuid), { token: service, headers: { 'x-request-id': 'read-1' } });
    expect(read.status).toBe(200);
    expect(read.body).toEqual({ uuid, provider: 'openai', name: 'agents', api_key: key });
    expect(read.headers['cache-control']).toBe('no-store');
    expect((await t.call('GET', SECRET(uuid), { token: owner })).status).toBe(403);
    expect((await t.call('GET', SECRET(uuid), { token: t.token('team-2', 'agents', 'service') })).status).toBe(404);
    expect((await t.call('GET', SECRET(uuid))).status).toBe(401);
    expect((await t.call('GET', OPENAI, { token: service })).status).toBe(403);
    const reads = (await providerEvents()).filter((e) => e.type === 'ProviderKeySecretRead');
    expect(reads).toHaveLength(1);
    expect(reads[0].data).toMatchObject({ keyUuid: uuid, readBy: 'agents' });
    expect(reads[0].metadata).toMatchObject({ actor: { role: 'service', teamId: 'team-1' }, requestId: 'read-1' });
    const trail = await t.call('GET', '/v1/audit/events?type=ProviderKeySecretRead', { token: owner });
    expect(trail.body.events).toHaveLength(1);
  });

  it('delete needs the right confirm_name, keeps the history and destroys the data key: decryption fails for good', async () => {
    const key = valid(anthropic, anthropicKey());
    const { uuid } = (await add(ANTHROPIC, { api_key: key, name: 'doomed' })).body.api_key_info;
    expect((await t.call('DELETE', `${ANTHROPIC}/${uuid}`, { token: owner, body: { confirm_name: 'other' } })).status).toBe(412);
    const deleted = await t.call('DELETE', `${ANTHROPIC}/${uuid}`, { token: owner, body: { confirm_name: 'doomed' } });
    expect(deleted.status).toBe(200);
    expect(deleted.body.api_key_info.deleted_at).toEqual(expect.any(String));
    expect((await t.call('GET', `${ANTHROPIC}/${uuid}`, { token: owner })).status).toBe(404);
    expect((await t.call('GET', SECRET(uuid), { token: service })).status).toBe(404);
    const events = await providerEvents();
    const added = events.find((e) => e.type === 'ProviderKeyAdded')!;
    expect(events.map((e) => e.type)).toContain('ProviderKeyDeleted');
    await expect(t.app.get(Envelope).open((added.data as { sealedSecret: SealedSecret }).sealedSecret, uuid, `provider_key:${uuid}`)).rejects.toBeInstanceOf(
      DataKeyDestroyedError,
    );
    expect((await add(ANTHROPIC, { api_key: key, name: 'doomed' })).status).toBe(200);
  });

  it('members manage the keys they added; auditors read; gateways see nothing', async () => {
    const member = t.token('team-1', 'm1', 'member');
    const key = valid(anthropic, anthropicKey());
    const mine = (await add(ANTHROPIC, { api_key: key, name: 'members' }, member)).body.api_key_info.uuid;
    const owners = (await add(ANTHROPIC, { api_key: key, name: 'owners' })).body.api_key_info.uuid;
    expect((await t.call('GET', ANTHROPIC, { token: member })).body.meta.total).toBe(1);
    expect((await t.call('DELETE', `${ANTHROPIC}/${owners}`, { token: member })).status).toBe(404);
    expect((await t.call('PUT', `${ANTHROPIC}/${mine}`, { token: member, body: { name: 'members.renamed' } })).status).toBe(200);
    const auditor = t.token('team-1', 'a1', 'auditor');
    expect((await t.call('GET', ANTHROPIC, { token: auditor })).body.meta.total).toBe(2);
    expect((await add(ANTHROPIC, { api_key: key, name: 'audit' }, auditor)).status).toBe(403);
    expect((await t.call('GET', ANTHROPIC, { token: t.token('team-1', 'g', 'gateway') })).status).toBe(403);
    expect((await t.call('GET', '/v2/gen-ai/mistral/keys', { token: owner })).status).toBe(404);
  });
});
