import { randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ProviderMock, startProviderMock } from '../../../../test/support/provider-mock';
import { freshDatabase } from '../../../../test/support/postgres';
import { TestApp, startTestApp } from '../../../../test/support/test-app';

const ANTHROPIC = '/v2/gen-ai/anthropic/keys';

describe('the agents behind a provider key, with the events in PostgreSQL', () => {
  let anthropic: ProviderMock;
  const apps: TestApp[] = [];
  beforeAll(async () => {
    anthropic = await startProviderMock('anthropic', ['claude-sonnet-4-5']);
  });
  afterAll(async () => {
    for (const t of apps) await t.close().catch(() => undefined);
    await anthropic.close();
  });

  it('links, a read for the agent and the delete’s answer, seen alike by a second instance on the same log', async () => {
    const env = {
      EVENT_STORE: 'postgres',
      DATABASE_URL: await freshDatabase(),
      KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      ANTHROPIC_API_BASE_URL: anthropic.url,
    };
    const start = async () => {
      const t = await startTestApp({ env }, fs.mkdtempSync(path.join(os.tmpdir(), 'agents-pg-')));
      apps.push(t);
      return t;
    };
    const [a, b] = [await start(), await start()];
    const owner = a.token('team-1', 'u1', 'owner');
    const platform = a.token('team-1', 'agents', 'service');
    const apiKey = `sk-ant-api03-${randomBytes(24).toString('base64url')}`;
    anthropic.validKeys.add(apiKey);
    const uuid = (await a.call('POST', ANTHROPIC, { token: owner, body: { api_key: apiKey, name: 'pg-claude' } })).body.api_key_info.uuid as string;
    const agent = randomUUID();
    expect((await a.call('PUT', `${ANTHROPIC}/${uuid}/agents/${agent}`, { token: platform, body: { name: 'bot' } })).status).toBe(200);
    expect((await b.call('GET', `/internal/provider-keys/${uuid}/secret?agent_uuid=${agent}`, { token: platform })).status).toBe(200);

    const deadline = Date.now() + 5000;
    let listed: { agents: Array<{ uuid: string; last_used_at: string | null }> } | undefined;
    while (Date.now() < deadline) {
      listed = (await a.call('GET', `${ANTHROPIC}/${uuid}/agents`, { token: owner })).body;
      if (listed?.agents[0]?.last_used_at) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(listed?.agents).toEqual([{ uuid: agent, name: 'bot', linked_at: expect.any(String), last_used_at: expect.any(String) }]);
    const deleted = await b.call('DELETE', `${ANTHROPIC}/${uuid}`, { token: owner });
    expect(deleted.status).toBe(200);
    expect(deleted.body.agents.map((x: { uuid: string }) => x.uuid)).toEqual([agent]);
  });
});
