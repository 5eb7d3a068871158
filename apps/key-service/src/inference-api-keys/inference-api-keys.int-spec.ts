import { KEYS, TestApp, startTestApp } from '../../../../test/support/test-app';

const API = (project: string) => `/cloud/v3/inference/${project}/api_keys`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Gcore-style inference API keys', () => {
  let t: TestApp;
  let owner: string;
  let member: string;
  let gateway: string;
  beforeEach(async () => {
    t = await startTestApp({ env: { EXPIRY_SCAN_MS: '50' } });
    owner = t.token('team-1', 'u1', 'owner');
    member = t.token('team-1', 'm1', 'member');
    gateway = t.token('team-1', 'g', 'gateway');
  });
  afterEach(() => t.close());

  const create = (body: Record<string, unknown>, token = owner) => t.call('POST', API('team-1'), { token, body });
  const verify = (key: string, deployment?: string) =>
    t.call('POST', '/v1/keys/verify', { token: gateway, body: { key, ...(deployment ? { deployment_name: deployment } : {}) } });

  it('creates a key with its secret once, and lists and reads it by name without the secret', async () => {
    const created = await create({ name: 'prod', description: 'for the chat app', expires_at: '2099-01-31' });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      name: 'prod',
      description: 'for the chat app',
      created_at: expect.any(String),
      expires_at: '2099-01-31T00:00:00.000Z',
      deployment_names: [],
      limits: { requests_per_minute: null, tokens_per_minute: null, quota: null },
      secret: expect.stringMatching(/^mak_/),
    });
    expect(created.headers['cache-control']).toBe('no-store');
    await create({ name: 'staging' });
    // Gcore's clients authenticate with "APIKey <token>".
    const list = await t.call('GET', `${API('team-1')}?limit=1&offset=1`, { headers: { authorization: `APIKey ${owner}` } });
    expect(list.status).toBe(200);
    expect(list.body).toEqual({ count: 2, results: [expect.objectContaining({ name: 'staging', deployment_names: [] })] });
    const one = await t.call('GET', `${API('team-1')}/prod`, { token: owner });
    expect(one.body).toEqual({ name: 'prod', description: 'for the chat app', created_at: created.body.created_at, expires_at: '2099-01-31T00:00:00.000Z', deployment_names: [], limits: { requests_per_minute: null, tokens_per_minute: null, quota: null } });
    expect(JSON.stringify(list.body) + JSON.stringify(one.body)).not.toContain(created.body.secret);
    expect((await verify(created.body.secret)).body).toMatchObject({ valid: true, team_id: 'team-1' });
  });

  it('keeps a name unique in the project: a second create is 409, and of concurrent creates exactly one wins', async () => {
    expect((await create({ name: 'dup' })).status).toBe(201);
    const again = await create({ name: 'dup' });
    expect(again.status).toBe(409);
    expect(again.body.message).toContain('dup');
    const racing = await Promise.all(Array.from({ length: 10 }, () => create({ name: 'race' })));
    expect(racing.map((r) => r.status).sort()).toEqual([201, ...Array(9).fill(409)]);
    expect((await t.call('GET', API('team-1'), { token: owner })).body.count).toBe(2);
    // Another project may use the same name.
    const other = await t.call('POST', API('team-2'), { token: t.token('team-2', 'u9', 'owner'), body: { name: 'dup' } });
    expect(other.status).toBe(201);
  });

  it('PATCH sets the description, the expiry and the whole set of deployments, which verification follows', async () => {
    const { secret } = (await create({ name: 'scoped' })).body;
    const patched = await t.call('PATCH', `${API('team-1')}/scoped`, {
      token: owner,
      body: { description: 'edge', expires_at: '2099-06-01T12:00:00Z', deployment_names: ['dep-a', 'dep-b'] },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ description: 'edge', expires_at: '2099-06-01T12:00:00.000Z', deployment_names: ['dep-a', 'dep-b'] });
    expect((await verify(secret, 'dep-a')).body.valid).toBe(true);

    const moved = await t.call('PATCH', `${API('team-1')}/scoped`, { token: owner, body: { deployment_names: ['dep-b', 'dep-c'], expires_at: null } });
    expect(moved.body).toMatchObject({ description: 'edge', expires_at: null, deployment_names: ['dep-b', 'dep-c'] });
    expect((await verify(secret, 'dep-a')).body).toMatchObject({ valid: false, code: 'DEPLOYMENT_NOT_ALLOWED' });
    expect((await verify(secret, 'dep-c')).body.valid).toBe(true);

    const events = await t.store.readAll(0);
    const types = events.filter((e) => e.streamId.startsWith('model_access_key-')).map((e) => e.type);
    expect(types).toEqual([
      'ModelAccessKeyCreated',
      'ModelAccessKeyDescriptionChanged',
      'ModelAccessKeyExpiryChanged',
      'ModelAccessKeyDeploymentAttached',
      'ModelAccessKeyDeploymentAttached',
      'ModelAccessKeyExpiryChanged',
      'ModelAccessKeyDeploymentDetached',
      'ModelAccessKeyDeploymentAttached',
    ]);
    // A changed expiry tells gateway caches to drop their answers for the secret.
    const feed = await t.call('GET', '/v1/revocations?after=0', { token: gateway });
    expect(feed.body.revocations.map((r: { reason: string }) => r.reason)).toEqual(['expiry_changed', 'expiry_changed', 'deployment_detached']);
  });

  it('PATCH takes our limits alongside its own fields: one command, the events together, verification carries them, {} lifts them', async () => {
    const { secret } = (await create({ name: 'limited' })).body;
    const limits = { requests_per_minute: 60, tokens_per_minute: null, quota: { requests: 1000, tokens: null, period: 'day' } };
    const patched = await t.call('PATCH', `${API('team-1')}/limited`, { token: owner, body: { description: 'metered', limits: { requests_per_minute: 60, quota: { requests: 1000, period: 'day' } } } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ description: 'metered', limits });
    expect((await verify(secret)).body).toMatchObject({ valid: true, limits });
    const uuid = (await verify(secret)).body.key_uuid as string;
    expect((await t.call('GET', `${KEYS}/${uuid}`, { token: owner })).body.api_key_info.limits).toEqual(limits);
    const stream = await t.store.readStream(`model_access_key-${uuid}`);
    expect(stream.map((e) => [e.type, e.position - stream[1].position])).toEqual([
      ['ModelAccessKeyCreated', expect.any(Number)],
      ['ModelAccessKeyDescriptionChanged', 0],
      ['ModelAccessKeyLimitsChanged', 1],
    ]);
    expect(stream[2].metadata).toMatchObject({ actor: { userId: 'u1', role: 'owner', teamId: 'team-1' } });
    // The same limits again change nothing; {} lifts them.
    await t.call('PATCH', `${API('team-1')}/limited`, { token: owner, body: { limits } });
    expect((await t.store.readStream(`model_access_key-${uuid}`)).length).toBe(3);
    const lifted = await t.call('PATCH', `${API('team-1')}/limited`, { token: owner, body: { limits: {} } });
    expect(lifted.body.limits).toEqual({ requests_per_minute: null, tokens_per_minute: null, quota: null });
  });

  it('a create may carry our limits too; the answer and verification show them', async () => {
    const created = await create({ name: 'metered', limits: { tokens_per_minute: 5000 } });
    expect(created.status).toBe(201);
    const limits = { requests_per_minute: null, tokens_per_minute: 5000, quota: null };
    expect(created.body.limits).toEqual(limits);
    expect((await verify(created.body.secret)).body).toMatchObject({ valid: true, limits });
    expect((await create({ name: 'bad', limits: { quota: { period: 'day' } } })).status).toBe(400);
  });

  it('PATCH refuses bad limits naming the field, and a member cannot reach a key another user made (404, as for every route)', async () => {
    await create({ name: 'k' });
    const bad = await t.call('PATCH', `${API('team-1')}/k`, { token: owner, body: { limits: { quota: { requests: 5, period: 'week' } } } });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toContain('period');
    expect((await t.call('PATCH', `${API('team-1')}/k`, { token: owner, body: { limits: { requests_per_minute: 0 } } })).status).toBe(400);
    expect((await t.call('PATCH', `${API('team-1')}/k`, { token: member, body: { limits: { requests_per_minute: 5 } } })).status).toBe(404);
  });

  it('PATCH refuses bad input naming the field, an empty body, and a past expiry', async () => {
    await create({ name: 'k' });
    const patch = (body: unknown) => t.call('PATCH', `${API('team-1')}/k`, { token: owner, body });
    expect((await patch({ deployment_names: ['bad name'] })).body.message).toContain('deployment_names');
    expect((await patch({ expires_at: 'soon' })).body.message).toContain('expires_at');
    expect((await patch({ name: 'renamed' })).status).toBe(400);
    expect((await patch({})).status).toBe(400);
    expect((await patch({ expires_at: '2001-01-01' })).status).toBe(422);
  });

  it('DELETE: 409 while attached to a deployment, 204 after, and the name is free again', async () => {
    await create({ name: 'gone' });
    await t.call('PATCH', `${API('team-1')}/gone`, { token: owner, body: { deployment_names: ['dep-a'] } });
    const refused = await t.call('DELETE', `${API('team-1')}/gone`, { token: owner });
    expect(refused.status).toBe(409);
    expect(refused.body.message).toContain('dep-a');
    await t.call('PATCH', `${API('team-1')}/gone`, { token: owner, body: { deployment_names: [] } });
    const deleted = await t.call('DELETE', `${API('team-1')}/gone`, { token: owner });
    expect(deleted.status).toBe(204);
    expect((await t.call('GET', `${API('team-1')}/gone`, { token: owner })).status).toBe(404);
    expect((await create({ name: 'gone' })).status).toBe(201);
  });

  it('a key created here expires at its expires_at: verification says EXPIRED and the feed revokes it', async () => {
    const { secret } = (await create({ name: 'short', expires_at: new Date(Date.now() + 600).toISOString() })).body;
    expect((await verify(secret)).body.valid).toBe(true);
    await sleep(900);
    expect((await verify(secret)).body).toMatchObject({ valid: false, code: 'EXPIRED' });
    const feed = await t.call('GET', '/v1/revocations?after=0', { token: gateway });
    expect(feed.body.revocations.map((r: { reason: string }) => r.reason)).toContain('expired');
    const late = await t.call('PATCH', `${API('team-1')}/short`, { token: owner, body: { expires_at: '2099-01-01' } });
    expect(late.status).toBe(409);
  });

  it('is one key model: the DigitalOcean API sees the key, and a rename there moves its name in the registry', async () => {
    await create({ name: 'first' });
    await create({ name: 'second' });
    const listed = await t.call('GET', KEYS, { token: owner });
    const uuid = listed.body.api_key_infos.find((k: { name: string }) => k.name === 'first').uuid;
    expect((await t.call('PUT', `${KEYS}/${uuid}`, { token: owner, body: { name: 'second' } })).status).toBe(409);
    expect((await t.call('PUT', `${KEYS}/${uuid}`, { token: owner, body: { name: 'renamed' } })).status).toBe(200);
    expect((await t.call('GET', `${API('team-1')}/renamed`, { token: owner })).status).toBe(200);
    expect((await create({ name: 'first' })).status).toBe(201);
    expect((await create({ name: 'renamed' })).status).toBe(409);
    const history = await t.call('GET', `/v1/audit/keys/${uuid}/events`, { token: owner });
    expect(history.body.events.map((e: { type: string }) => e.type)).toEqual(['ModelAccessKeyCreated', 'ModelAccessKeyRenamed']);
  });

  it('answers only within the caller’s project and role', async () => {
    await create({ name: 'owned' });
    expect((await t.call('GET', API('team-2'), { token: owner })).status).toBe(404);
    expect((await t.call('GET', API('team-1'))).status).toBe(401);
    expect((await t.call('GET', API('team-1'), { token: 'not-a-token' })).status).toBe(401);
    expect((await t.call('GET', API('team-1'), { token: gateway })).status).toBe(403);
    expect((await create({ name: 'audit' }, t.token('team-1', 'a1', 'auditor'))).status).toBe(403);
    // A member sees and manages only the keys they created.
    expect((await create({ name: 'mine' }, member)).status).toBe(201);
    expect((await t.call('GET', API('team-1'), { token: member })).body).toMatchObject({ count: 1, results: [{ name: 'mine' }] });
    expect((await t.call('GET', `${API('team-1')}/owned`, { token: member })).status).toBe(404);
    expect((await t.call('DELETE', `${API('team-1')}/owned`, { token: member })).status).toBe(404);
    expect((await t.call('POST', API('team-1'), { token: owner, body: { name: 'a/b' } })).body.message).toContain('name');
  });
});
