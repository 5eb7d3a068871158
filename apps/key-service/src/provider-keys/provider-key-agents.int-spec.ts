import { randomBytes, randomUUID } from 'node:crypto';
import { ProviderMock, startProviderMock } from '../../../../test/support/provider-mock';
import { TestApp, startTestApp } from '../../../../test/support/test-app';

const ANTHROPIC = '/v2/gen-ai/anthropic/keys';
const OPENAI = '/v2/gen-ai/openai/keys';
const AGENTS = (base: string, uuid: string) => `${base}/${uuid}/agents`;
const SECRET = (uuid: string) => `/internal/provider-keys/${uuid}/secret`;

describe('the agents behind a partner provider key, on the SQLite store', () => {
  let anthropic: ProviderMock;
  let openai: ProviderMock;
  let t: TestApp;
  let owner: string;
  let platform: string;

  beforeAll(async () => {
    anthropic = await startProviderMock('anthropic', ['claude-sonnet-4-5']);
    openai = await startProviderMock('openai', ['gpt-4o']);
  });
  afterAll(async () => {
    await anthropic.close();
    await openai.close();
  });
  beforeEach(async () => {
    t = await startTestApp({ env: { ANTHROPIC_API_BASE_URL: anthropic.url, OPENAI_API_BASE_URL: `${openai.url}/` } });
    owner = t.token('team-1', 'u1', 'owner');
    platform = t.token('team-1', 'agents', 'service');
  });
  afterEach(() => t.close());

  const addKey = async (base = ANTHROPIC, name = 'prod-claude', token = owner) => {
    const apiKey = base === ANTHROPIC ? `sk-ant-api03-${randomBytes(24).toString('base64url')}` : `sk-proj-${randomBytes(24).toString('base64url')}`;
    (base === ANTHROPIC ? anthropic : openai).validKeys.add(apiKey);
    const res = await t.call('POST', base, { token, body: { api_key: apiKey, name } });
    expect(res.status).toBe(200);
    return res.body.api_key_info.uuid as string;
  };
  const link = (base: string, uuid: string, agent: string, body?: unknown, token = platform) => t.call('PUT', `${AGENTS(base, uuid)}/${agent}`, { token, body });
  const list = (base: string, uuid: string, token = owner, query = '') => t.call('GET', `${AGENTS(base, uuid)}${query}`, { token });

  it('answers an empty list in DigitalOcean’s shape for a key with no agents (404 before this issue)', async () => {
    const uuid = await addKey();
    const res = await list(ANTHROPIC, uuid);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      agents: [],
      links: { pages: { first: `/v2/gen-ai/anthropic/keys/${uuid}/agents?page=1&per_page=20`, last: `/v2/gen-ai/anthropic/keys/${uuid}/agents?page=1&per_page=20` } },
      meta: { page: 1, pages: 1, total: 0 },
    });
  });

  it('lists linked agents with name, linked_at and last_used_at; a plaintext read for an agent moves its last use', async () => {
    const uuid = await addKey(OPENAI, 'agents-key');
    const first = randomUUID();
    const second = randomUUID();
    const linked = await link(OPENAI, uuid, first, { name: 'support-bot' });
    expect(linked.status).toBe(200);
    expect(linked.body).toEqual({ agent: { uuid: first, name: 'support-bot', linked_at: expect.any(String), last_used_at: null } });
    expect((await link(OPENAI, uuid, second, { name: 'temp' })).body.agent.name).toBe('temp');
    expect((await link(OPENAI, uuid, second, { name: null })).body.agent.name).toBeNull();

    const read = await t.call('GET', `${SECRET(uuid)}?agent_uuid=${first}`, { token: platform });
    expect(read.status).toBe(200);
    const res = await list(OPENAI, uuid);
    expect(res.body.meta.total).toBe(2);
    expect(res.body.agents).toEqual([
      { uuid: first, name: 'support-bot', linked_at: linked.body.agent.linked_at, last_used_at: expect.any(String) },
      { uuid: second, name: null, linked_at: expect.any(String), last_used_at: null },
    ]);
    const events = (await t.store.readStream(`provider_key-${uuid}`)).map((e) => ({ type: e.type, data: e.data, actor: (e.metadata as { actor?: unknown }).actor }));
    expect(events.filter((e) => e.type === 'ProviderKeyAgentLinked')[0]).toMatchObject({
      data: { agentUuid: first, agentName: 'support-bot', linkedBy: 'agents', linkedAt: expect.any(String) },
      actor: { role: 'service', teamId: 'team-1' },
    });
    expect(events.find((e) => e.type === 'ProviderKeySecretRead')?.data).toMatchObject({ agentUuid: first });
  });

  it('pages the list', async () => {
    const uuid = await addKey();
    const agents = [randomUUID(), randomUUID(), randomUUID()];
    for (const agent of agents) expect((await link(ANTHROPIC, uuid, agent)).status).toBe(200);
    const page2 = await list(ANTHROPIC, uuid, owner, '?page=2&per_page=2');
    expect(page2.body.agents.map((a: { uuid: string }) => a.uuid)).toEqual([agents[2]]);
    expect(page2.body.meta).toEqual({ page: 2, pages: 2, total: 3 });
    expect(page2.body.links.pages.previous).toContain('page=1');
    expect((await list(ANTHROPIC, uuid, owner, '?per_page=0')).status).toBe(400);
  });

  it('unlinks an agent; unlinking one that is not linked is 404, and a read for it is refused', async () => {
    const uuid = await addKey();
    const agent = randomUUID();
    await link(ANTHROPIC, uuid, agent, { name: 'bot' });
    const unlinked = await t.call('DELETE', `${AGENTS(ANTHROPIC, uuid)}/${agent}`, { token: platform });
    expect(unlinked.status).toBe(204);
    expect((await list(ANTHROPIC, uuid)).body.agents).toEqual([]);
    const again = await t.call('DELETE', `${AGENTS(ANTHROPIC, uuid)}/${agent}`, { token: platform });
    expect(again.status).toBe(404);
    expect(again.body).toMatchObject({ id: 'not_found', code: 'AGENT_NOT_LINKED' });
    expect((await t.call('GET', `${SECRET(uuid)}?agent_uuid=${agent}`, { token: platform })).status).toBe(404);
  });

  it("a key's usage is its plaintext reads, by the agent each named; a deleted key's stays readable", async () => {
    const uuid = await addKey(ANTHROPIC, 'metered');
    const [first, second] = [randomUUID(), randomUUID()];
    await link(ANTHROPIC, uuid, first, { name: 'support-bot' });
    await link(ANTHROPIC, uuid, second);
    for (const agent of [first, first, second, undefined]) {
      expect((await t.call('GET', `${SECRET(uuid)}${agent ? `?agent_uuid=${agent}` : ''}`, { token: platform })).status).toBe(200);
    }
    const usage = (token = owner, query = 'granularity=day') => t.call('GET', `/v1/usage/provider-keys/${uuid}?${query}`, { token });
    const day = new Date().toISOString().slice(0, 10);
    const read = await usage();
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ key_uuid: uuid, provider: 'anthropic', deleted_at: null, granularity: 'day' });
    expect(read.body.totals).toEqual({ start: read.body.from, reads: 4, agents: { [first]: 2, [second]: 1 } });
    // The reads fall in one day, or two when the test runs across midnight UTC.
    expect(read.body.series.reduce((n: number, b: { reads: number }) => n + b.reads, 0)).toBe(4);
    expect(read.body.series[read.body.series.length - 1].start).toBe(`${day}T00:00:00.000Z`);
    expect((await usage(owner, 'from=2000-01-01&to=2000-01-02')).body).toMatchObject({ series: [], totals: { reads: 0, agents: {} } });
    expect((await usage(t.token('team-1', 'a1', 'auditor'))).status).toBe(200);
    expect((await usage(t.token('team-2', 'u1', 'owner'))).status).toBe(404);
    expect((await usage(t.token('team-1', 'someone-else', 'member'))).status).toBe(404);
    expect((await usage(owner, 'granularity=week')).body.details).toEqual({ field: 'granularity' });
    expect((await t.call('GET', `/v1/usage/provider-keys/${randomUUID()}`, { token: owner })).status).toBe(404);

    expect((await t.call('DELETE', `${ANTHROPIC}/${uuid}`, { token: owner, body: { confirm_name: 'metered' } })).status).toBe(200);
    const after = await usage();
    expect(after.body).toMatchObject({ deleted_at: expect.any(String), totals: { reads: 4 } });
  });

  it('a delete still succeeds with agents linked, and its answer names the agents that lost access', async () => {
    const uuid = await addKey(ANTHROPIC, 'doomed');
    const agent = randomUUID();
    await link(ANTHROPIC, uuid, agent, { name: 'bot' });
    const deleted = await t.call('DELETE', `${ANTHROPIC}/${uuid}`, { token: owner, body: { confirm_name: 'doomed' } });
    expect(deleted.status).toBe(200);
    expect(deleted.body.api_key_info).toMatchObject({ uuid, deleted_at: expect.any(String) });
    expect(deleted.body.agents).toEqual([{ uuid: agent, name: 'bot', linked_at: expect.any(String), last_used_at: null }]);
    expect((await list(ANTHROPIC, uuid)).status).toBe(404);
    const none = await addKey(ANTHROPIC, 'lonely');
    expect((await t.call('DELETE', `${ANTHROPIC}/${none}`, { token: owner })).body.agents).toEqual([]);
  });

  describe('who may link and list', () => {
    it('only the agent platform (role service) of the key’s team links or unlinks', async () => {
      const uuid = await addKey();
      const agent = randomUUID();
      for (const role of ['owner', 'member', 'auditor'] as const) {
        expect((await link(ANTHROPIC, uuid, agent, undefined, t.token('team-1', 'x', role))).status).toBe(403);
      }
      expect((await link(ANTHROPIC, uuid, agent, undefined, t.token('platform', 'gw', 'gateway'))).status).toBe(403);
      expect((await link(ANTHROPIC, uuid, agent, undefined, t.token('team-2', 'agents', 'service'))).status).toBe(404);
      expect((await link(ANTHROPIC, uuid, agent, undefined, null as unknown as string)).status).toBe(401);
      expect((await link(ANTHROPIC, uuid, agent, undefined, 'not-a-token')).status).toBe(401);
      expect((await link(OPENAI, uuid, agent)).status).toBe(404);
      expect((await list(ANTHROPIC, uuid)).body.agents).toEqual([]);
    });

    it('owners, auditors and the platform list a team key; a member only the keys they added; other teams and gateways nothing', async () => {
      const member = t.token('team-1', 'm1', 'member');
      const owners = await addKey(ANTHROPIC, 'owners');
      const members = await addKey(ANTHROPIC, 'members', member);
      await link(ANTHROPIC, owners, randomUUID());
      expect((await list(ANTHROPIC, owners, owner)).body.meta.total).toBe(1);
      expect((await list(ANTHROPIC, owners, t.token('team-1', 'a1', 'auditor'))).body.meta.total).toBe(1);
      expect((await list(ANTHROPIC, owners, platform)).body.meta.total).toBe(1);
      expect((await list(ANTHROPIC, owners, member)).status).toBe(404);
      expect((await list(ANTHROPIC, members, member)).status).toBe(200);
      expect((await list(ANTHROPIC, owners, t.token('team-2', 'u9', 'owner'))).status).toBe(404);
      expect((await list(ANTHROPIC, owners, t.token('team-2', 'agents', 'service'))).status).toBe(404);
      expect((await list(ANTHROPIC, owners, t.token('platform', 'gw', 'gateway'))).status).toBe(403);
      expect((await list(ANTHROPIC, owners, null as unknown as string)).status).toBe(401);
      expect((await list(ANTHROPIC, owners, 'not-a-token')).status).toBe(401);
      expect((await list(OPENAI, owners)).status).toBe(404);
    });

    it.each([
      [{ name: '' }, 'name'],
      [{ name: 7 }, 'name'],
      [{ name: 'x'.repeat(256) }, 'name'],
      [{ name: '   ' }, 'name'],
      [{ name: 'bot\u202e' }, 'name'],
      [{ agent: 'x' }, 'agent'],
    ])('answers 400 naming the field for %j', async (body, field) => {
      const uuid = await addKey();
      const res = await link(ANTHROPIC, uuid, randomUUID(), body);
      expect(res.status).toBe(400);
      expect(res.body.details).toEqual({ field });
    });

    it('answers 400 for an agent uuid or a read agent_uuid that is not a UUID', async () => {
      const uuid = await addKey();
      expect((await link(ANTHROPIC, uuid, 'not-a-uuid')).body).toMatchObject({ details: { field: 'agent_uuid' } });
      expect((await t.call('GET', `${SECRET(uuid)}?agent_uuid=nope`, { token: platform })).status).toBe(400);
    });
  });
});
