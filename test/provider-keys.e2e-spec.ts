import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ProviderMock, filesContaining, startProviderMock } from './support/provider-mock';
import { query, usesPostgres } from './support/postgres';
import { MAIN, ServiceProcess, api, startService } from './support/service-process';

const ANTHROPIC = '/v2/gen-ai/anthropic/keys';
const OPENAI = '/v2/gen-ai/openai/keys';

describe('provider keys in the running service', () => {
  let anthropic: ProviderMock;
  let openai: ProviderMock;
  let service: ServiceProcess;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    anthropic = await startProviderMock('anthropic', ['claude-sonnet-4-5']);
    openai = await startProviderMock('openai', ['gpt-4o']);
    // No KEY_ENCRYPTION_KEY, as after `npm start`; every log line the service writes is kept.
    env = { LOG_LEVEL: 'debug', ANTHROPIC_API_BASE_URL: anthropic.url, OPENAI_API_BASE_URL: openai.url };
    service = await startService({ env });
  });
  afterAll(async () => {
    await service.kill();
    fs.rmSync(service.dataDir, { recursive: true, force: true });
    await anthropic.close();
    await openai.close();
  });

  it('outside production, without KEY_ENCRYPTION_KEY, generates a master key under DATA_DIR and warns loudly', () => {
    expect(fs.readFileSync(path.join(service.dataDir, 'master.key'), 'utf8').trim()).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(service.output()).toContain('KEY_ENCRYPTION_KEY is not set: using the DEVELOPMENT master key');
  });

  it('a whole life of provider keys leaves no plaintext in the store files or the logs', async () => {
    const owner = service.token('team-1', 'u1', 'owner');
    const reader = service.token('team-1', 'agents', 'service');
    const used: string[] = [];
    const key = (mock: ProviderMock, valid = true) => {
      const secret = `sk-${mock === anthropic ? 'ant-api03' : 'proj'}-${randomBytes(24).toString('base64url')}`;
      if (valid) mock.validKeys.add(secret);
      used.push(secret);
      return secret;
    };
    const claude = await api(service.baseUrl, 'POST', ANTHROPIC, owner, { api_key: key(anthropic), name: 'claude' });
    expect(claude.status).toBe(200);
    const gpt = await api(service.baseUrl, 'POST', OPENAI, owner, { api_key: key(openai), name: 'gpt' });
    expect(gpt.status).toBe(200);
    expect((await api(service.baseUrl, 'POST', OPENAI, owner, { api_key: key(openai, false), name: 'wrong' })).status).toBe(422);
    const replacement = key(anthropic);
    const claudeUuid = claude.body.api_key_info.uuid;
    expect((await api(service.baseUrl, 'PUT', `${ANTHROPIC}/${claudeUuid}`, owner, { api_key: replacement })).status).toBe(200);
    const read = await api(service.baseUrl, 'GET', `/internal/provider-keys/${claudeUuid}/secret`, reader);
    expect(read.body.api_key).toBe(replacement);
    expect((await api(service.baseUrl, 'DELETE', `${OPENAI}/${gpt.body.api_key_info.uuid}`, owner, { confirm_name: 'gpt' })).status).toBe(200);
    // The operator tools read the same files: an export and a rebuild must not spill a secret either.
    const exported = service.keyctl('audit', 'export', '--team', 'team-1');
    expect(exported.status).toBe(0);
    expect(exported.stdout).toContain('ProviderKeySecretRead');
    const rebuilt = service.keyctl('projections', 'rebuild');
    expect(rebuilt.status).toBe(0);

    await service.kill();
    const logs = service.output() + exported.stdout + exported.stderr + rebuilt.stdout + rebuilt.stderr;
    expect(logs).toContain('ProviderKeys'); // debug lines were written and are part of the scan
    for (const secret of used) expect(logs).not.toContain(secret);
    expect(filesContaining(service.dataDir, used)).toEqual([]);
    if (usesPostgres(service.env)) {
      const rows = await query<{ text: string }>(service.env.DATABASE_URL!, 'SELECT data::text || metadata::text AS text FROM events');
      expect(rows.length).toBeGreaterThan(0);
      for (const secret of used) expect(rows.filter((r) => r.text.includes(secret))).toEqual([]);
    }
    service = await startService({ dataDir: service.dataDir, env });
  });

  it('a wrong master key for existing data stops start-up with the variable named; the right one starts', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'key-service-kek-'));
    const right = randomBytes(32).toString('base64');
    try {
      const first = await startService({ dataDir, env: { KEY_ENCRYPTION_KEY: right } });
      await first.kill();
      const wrong = spawnSync(process.execPath, [MAIN], {
        env: { ...first.env, KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64') },
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(wrong.status).toBe(1);
      expect(wrong.stderr).toContain('KEY_ENCRYPTION_KEY: is not the master key the data in');
      const again = await startService({ dataDir, env: { KEY_ENCRYPTION_KEY: right } });
      await again.kill();
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
