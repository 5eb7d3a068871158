import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as net from 'node:net';
import { MAIN, ServiceProcess, api, freePort, startService } from './support/service-process';

const KEYS = '/v2/gen-ai/models/api_keys';

describe('the started service (end to end)', () => {
  let service: ServiceProcess;
  afterEach(async () => {
    await service?.kill('SIGKILL');
    if (service) fs.rmSync(service.dataDir, { recursive: true, force: true });
  });

  it('answers the DigitalOcean flow over HTTP with a token from keyctl', async () => {
    service = await startService();
    const token = service.token('team-1', '100', 'owner');
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    const created = await api(service.baseUrl, 'POST', KEYS, token, { name: 'test-key' });
    expect(created.status).toBe(200);
    const uuid = created.body.api_key_info.uuid;
    expect((await api(service.baseUrl, 'PUT', `${KEYS}/${uuid}`, token, { api_key_uuid: uuid, name: 'test-key2' })).body.api_key_info.name).toBe('test-key2');
    const regenerated = await api(service.baseUrl, 'PUT', `${KEYS}/${uuid}/regenerate`, token);
    expect(regenerated.body.api_key_info.secret_key).toMatch(/^mak_/);
    const listed = await api(service.baseUrl, 'GET', `${KEYS}?page=1&per_page=20`, token);
    expect(listed.body.meta).toEqual({ page: 1, pages: 1, total: 1 });
    expect((await api(service.baseUrl, 'DELETE', `${KEYS}/${uuid}`, token)).body.api_key_info.deleted_at).toEqual(expect.any(String));
    expect((await api(service.baseUrl, 'GET', `${KEYS}/${uuid}`, token)).status).toBe(404);
    expect((await api(service.baseUrl, 'GET', '/readyz', null)).body.status).toBe('ready');
    expect(service.output()).not.toContain(created.body.api_key_info.secret_key);
    expect(service.output()).not.toContain(regenerated.body.api_key_info.secret_key);
  });

  it('serves an OpenAPI document with every route, and a browsable page', async () => {
    service = await startService();
    const doc = (await api(service.baseUrl, 'GET', '/openapi.json', null)).body;
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        '/healthz',
        '/readyz',
        KEYS,
        `${KEYS}/{uuid}`,
        `${KEYS}/{uuid}/regenerate`,
        `${KEYS}/{uuid}/deployments`,
        `${KEYS}/{uuid}/deployments/{deployment_name}`,
        `${KEYS}/{uuid}/limits`,
        '/v1/usage',
        '/v1/usage/keys/{uuid}',
        '/v1/usage/provider-keys/{uuid}',
        '/v1/keys/verify',
        '/v1/revocations',
        '/v1/revocations/stream',
        '/v1/audit/events',
        '/v1/audit/keys/{uuid}/events',
        '/v1/audit/keys/{uuid}/state',
        '/v1/audit/keys/{uuid}/chain',
        '/cloud/v3/inference/{project_id}/api_keys',
        '/cloud/v3/inference/{project_id}/api_keys/{api_key_name}',
        '/v2/gen-ai/{provider}/keys',
        '/v2/gen-ai/{provider}/keys/{uuid}',
        '/v2/gen-ai/{provider}/keys/{uuid}/agents',
        '/v2/gen-ai/{provider}/keys/{uuid}/agents/{agent_uuid}',
        '/internal/provider-keys/{uuid}/secret',
      ].sort(),
    );
    expect(doc.paths['/v1/keys/verify'].post.requestBody.content['application/json'].schema.$ref).toContain('VerifyKeyRequest');
    expect(doc.paths[KEYS].post.requestBody.content['application/json'].schema.$ref).toContain('CreateKeyRequest');
    expect(doc.paths['/v2/gen-ai/{provider}/keys'].post.parameters[0].schema.enum).toEqual(['anthropic', 'openai']);
    const page = await fetch(`${service.baseUrl}/docs`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('swagger');
  });

  it('kill -9 in the middle of a burst of commands, then a restart: every acknowledged command is intact', async () => {
    service = await startService();
    const dataDir = service.dataDir;
    const token = service.token('team-1', '100', 'owner');
    const acknowledged = new Map<string, string>();
    // A rename in flight at the kill may be on disk without its reply having arrived: either name is right.
    const inFlight = new Map<string, string>();
    let killed = false;
    const worker = async (w: number) => {
      for (let i = 0; !killed; i++) {
        try {
          const created = await api(service.baseUrl, 'POST', KEYS, token, { name: `w${w}-${i}` });
          if (created.status !== 200) continue;
          const uuid = created.body.api_key_info.uuid;
          acknowledged.set(uuid, `w${w}-${i}`);
          inFlight.set(uuid, `w${w}-${i}-renamed`);
          const renamed = await api(service.baseUrl, 'PUT', `${KEYS}/${uuid}`, token, { name: `w${w}-${i}-renamed` });
          if (renamed.status === 200) acknowledged.set(uuid, `w${w}-${i}-renamed`);
          inFlight.delete(uuid);
        } catch {
          return; // the connection died with the process: that command was never acknowledged
        }
      }
    };
    const workers = Array.from({ length: 16 }, (_, w) => worker(w));
    while (acknowledged.size < 200) await new Promise((r) => setTimeout(r, 5));
    await service.kill('SIGKILL');
    killed = true;
    await Promise.all(workers);
    service = await startService({ dataDir });
    for (const [uuid, name] of acknowledged) {
      const got = await api(service.baseUrl, 'GET', `${KEYS}/${uuid}`, token);
      expect(got.status).toBe(200);
      expect([name, inFlight.get(uuid)]).toContain(got.body.api_key_info.name);
    }
    const listed = await api(service.baseUrl, 'GET', `${KEYS}?per_page=1`, token);
    expect(listed.body.meta.total).toBeGreaterThanOrEqual(acknowledged.size);
  });

  describe('configuration is validated at boot', () => {
    const boot = (env: NodeJS.ProcessEnv) => {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'key-service-cfg-'));
      const result = spawnSync(process.execPath, [MAIN], { env: { ...process.env, DATA_DIR: dataDir, ...env }, encoding: 'utf8', timeout: 20_000 });
      fs.rmSync(dataDir, { recursive: true, force: true });
      return result;
    };

    it('a port another process holds stops start-up naming its variable', async () => {
      const holder = net.createServer();
      await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
      const taken = String((holder.address() as net.AddressInfo).port);
      try {
        const [port, grpcPort, metricsPort] = [String(await freePort()), String(await freePort()), String(await freePort())];
        for (const [variable, env] of [
          ['PORT', { PORT: taken, GRPC_PORT: grpcPort }],
          ['GRPC_PORT', { PORT: port, GRPC_PORT: taken }],
          ['METRICS_PORT', { PORT: port, GRPC_PORT: grpcPort, METRICS_PORT: taken }],
        ] as const) {
          // On the embedded store whatever the suite's: each boot has a DATA_DIR (and master key) of its own.
          const result = boot({ EVENT_STORE: 'sqlite', HOST: '127.0.0.1', METRICS_PORT: metricsPort, ...env });
          expect([variable, result.status]).toEqual([variable, 1]);
          expect(result.stderr).toContain(`Start-up failed: ${variable}: 127.0.0.1:${taken} is already in use`);
        }
      } finally {
        holder.close();
      }
    });

    it.each([
      [{ PORT: 'eighty' }, 'PORT'],
      [{ GRPC_PORT: '70000' }, 'GRPC_PORT'],
      [{ NODE_ENV: 'staging' }, 'NODE_ENV'],
      [{ AUTH_JWT_SECRET: 'short' }, 'AUTH_JWT_SECRET'],
      [{ NODE_ENV: 'production', KEY_ENCRYPTION_KEY: Buffer.alloc(32).toString('base64') }, 'AUTH_JWT_SECRET'],
      [{ NODE_ENV: 'production', AUTH_JWT_SECRET: 'x'.repeat(40) }, 'KEY_ENCRYPTION_KEY'],
      [{ KEY_ENCRYPTION_KEY: 'dG9vIHNob3J0' }, 'KEY_ENCRYPTION_KEY'],
      [{ NODE_ENV: 'production', AUTH_JWT_SECRET: 'x'.repeat(40), KEY_ENCRYPTION_KEY: `${'A'.repeat(43)}!` }, 'KEY_ENCRYPTION_KEY'],
      [{ ANTHROPIC_API_BASE_URL: 'ftp://api.anthropic.com' }, 'ANTHROPIC_API_BASE_URL'],
      [{ OPENAI_API_BASE_URL: 'not a url' }, 'OPENAI_API_BASE_URL'],
      [{ PROVIDER_VERIFY_TIMEOUT_MS: 'soon' }, 'PROVIDER_VERIFY_TIMEOUT_MS'],
      [{ PUBLIC_BASE_URL: 'keys.example.com' }, 'PUBLIC_BASE_URL'],
      [{ AUTH_MAX_TOKEN_TTL_S: 'forever' }, 'AUTH_MAX_TOKEN_TTL_S'],
      [{ EVENT_STORE: 'mongodb' }, 'EVENT_STORE'],
      [{ EVENT_STORE: 'postgres', DATABASE_URL: '' }, 'DATABASE_URL'],
      [{ EVENT_STORE: 'postgres', DATABASE_URL: 'mysql://db:3306/keys' }, 'DATABASE_URL'],
      [{ EVENT_STORE: 'kurrentdb', KURRENTDB_CONNECTION_STRING: '' }, 'KURRENTDB_CONNECTION_STRING'],
    ])('%j stops start-up naming %s', (env, variable) => {
      const result = boot(env);
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(`Invalid configuration: ${variable}`);
    });

    it.each([
      [
        { EVENT_STORE: 'postgres', DATABASE_URL: 'postgres://keys:hunter2@127.0.0.1:9/keys' },
        'EVENT_STORE=postgres: cannot use PostgreSQL at DATABASE_URL=postgres://keys:***@127.0.0.1:9/keys: ECONNREFUSED',
      ],
      [
        { EVENT_STORE: 'kurrentdb', KURRENTDB_CONNECTION_STRING: 'kurrentdb://127.0.0.1:9?tls=false' },
        'EVENT_STORE=kurrentdb: cannot reach KurrentDB at KURRENTDB_CONNECTION_STRING=kurrentdb://127.0.0.1:9?tls=false',
      ],
    ])('an unreachable store stops start-up saying which variable, which address and what failed: %j', (env, message) => {
      const result = boot(env);
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(`Start-up failed: ${message}`);
      expect(result.stderr + result.stdout).not.toContain('hunter2');
    });
  });
});
