import { randomBytes } from 'node:crypto';
import { ProviderMock, filesContaining, startProviderMock } from '../../../../test/support/provider-mock';
import { TestApp, startTestApp } from '../../../../test/support/test-app';

const ANTHROPIC = '/v2/gen-ai/anthropic/keys';
const OPENAI = '/v2/gen-ai/openai/keys';
const anthropicKey = () => `sk-ant-api03-${randomBytes(24).toString('base64url')}`;
const openaiKey = () => `sk-proj-${randomBytes(24).toString('base64url')}`;
const list = (data: unknown) => ({ status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ object: 'list', data }) });

describe('provider verification trusts only the configured origin and its model list', () => {
  let anthropic: ProviderMock;
  let openai: ProviderMock;
  /** Another origin: it lists models for anyone, and must never be asked. */
  let elsewhere: ProviderMock;
  let t: TestApp;
  let owner: string;
  const used: string[] = [];

  beforeAll(async () => {
    anthropic = await startProviderMock('anthropic', ['claude-sonnet-4-5']);
    openai = await startProviderMock('openai', ['gpt-4o']);
    elsewhere = await startProviderMock('openai', ['gpt-4o']);
  });
  afterAll(async () => {
    await Promise.all([anthropic.close(), openai.close(), elsewhere.close()]);
  });
  beforeEach(async () => {
    t = await startTestApp({ env: { ANTHROPIC_API_BASE_URL: anthropic.url, OPENAI_API_BASE_URL: openai.url } });
    owner = t.token('team-1', 'u1', 'owner');
    elsewhere.requests.length = 0;
    elsewhere.rawAnswer = list([{ id: 'gpt-4o' }]);
  });
  afterEach(async () => {
    anthropic.rawAnswer = null;
    openai.rawAnswer = null;
    await t.close({ keepData: true });
    expect(filesContaining(t.dataDir, used)).toEqual([]);
    await t.close();
  });

  const add = (path: string, apiKey: string, name = 'main') => {
    used.push(apiKey);
    return t.call('POST', path, { token: owner, body: { api_key: apiKey, name } });
  };
  const stored = async () => (await t.store.readAll(0)).length;

  it.each([
    ['anthropic', 302, ANTHROPIC, anthropicKey],
    ['openai', 302, OPENAI, openaiKey],
    ['openai', 307, OPENAI, openaiKey],
  ] as const)('a %s redirect (%i) to another origin is 502; the other origin gets no request and nothing is stored', async (provider, status, path, keyOf) => {
    const mock = provider === 'anthropic' ? anthropic : openai;
    const key = keyOf();
    mock.validKeys.add(key);
    mock.rawAnswer = { status, headers: { location: `${elsewhere.url}/v1/models` }, body: '' };
    const res = await add(path, key);
    expect(res.status).toBe(502);
    expect(res.body.code).toBe('PROVIDER_UNREACHABLE');
    expect(res.body.message).toContain(`HTTP ${status}`);
    expect(elsewhere.requests).toEqual([]);
    expect(await stored()).toBe(0);
  });

  it.each([
    ['HTML', { status: 200, headers: { 'content-type': 'text/html' }, body: '<html>captive portal</html>' }],
    ['an empty body', { status: 200, body: '' }],
    ['JSON without data', { status: 200, body: JSON.stringify({ object: 'list' }) }],
    ['data that is not a list', { status: 200, body: JSON.stringify({ data: { id: 'gpt-4o' } }) }],
    ['an entry without a string id', list([{ id: 'gpt-4o' }, { id: 42 }])],
    ['an entry that is not an object', list(['gpt-4o'])],
    ['more than 1,000 models', list(Array.from({ length: 1001 }, (_, i) => ({ id: `m-${i}` })))],
    ['more than 1 MiB', list([{ id: 'gpt-4o', pad: 'x'.repeat(1024 * 1024) }])],
  ])('a 2xx with %s is 502, not a stored key', async (_, answer) => {
    const key = openaiKey();
    openai.validKeys.add(key);
    openai.rawAnswer = answer;
    const res = await add(OPENAI, key);
    expect(res.status).toBe(502);
    expect(res.body.code).toBe('PROVIDER_UNREACHABLE');
    expect(await stored()).toBe(0);
  });

  it('keeps only showable ids of 1-200 well-formed characters, distinct and sorted', async () => {
    const key = openaiKey();
    openai.validKeys.add(key);
    const ok = ['gpt-4o', 'o1', 'x'.repeat(200), 'modèle-ü', '模型'];
    const bad = ['', 'x'.repeat(201), 'a\u0000b', 'a\nb', 'a\u007fb', 'a\u0085b', 'evil\u202Etxt', 'a\u061cb', 'a\u200eb', 'a\u200fb', 'a\u2066b', 'a\u2069b', 'a\ud800b'];
    // JSON.stringify keeps a lone surrogate as an escape, so the provider's body carries it as such.
    openai.rawAnswer = list([...ok, 'gpt-4o', ...bad].map((id) => ({ id, object: 'model' })));
    const res = await add(OPENAI, key);
    expect(res.status).toBe(200);
    expect(res.body.api_key_info.models).toEqual([...ok].sort());
  });
});
