import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Agent, request } from 'undici';
import { GatewayProcess, Upstream, startGateway, startUpstream } from './support/gateway-process';
import { Pki, createPki } from './support/pki';
import { MAIN, ServiceProcess, startService } from './support/service-process';

const GATEWAY_ID = 'spiffe://example.org/team/platform/role/gateway/user/gateway-e2e';

describe('the started service over TLS, and the reference gateway over mutual TLS', () => {
  let pki: Pki;
  let service: ServiceProcess;
  let upstream: Upstream;
  let gateway: GatewayProcess | null = null;
  beforeAll(async () => {
    pki = createPki();
    const server = pki.server('service', { chain: true });
    service = await startService({
      tlsCaFile: pki.caCert,
      env: { TLS_CERT_FILE: server.cert, TLS_KEY_FILE: server.key, TLS_CLIENT_CA_FILE: pki.caCert, TLS_REQUIRE_CLIENT_CERT_FOR: 'gateway,service' },
    });
    upstream = await startUpstream();
  });
  afterAll(async () => {
    await gateway?.kill();
    await service?.kill();
    await upstream?.close();
    pki?.remove();
  });

  it('a bad TLS or proxy setting stops start-up with one line naming the variable', () => {
    const start = (env: NodeJS.ProcessEnv) => {
      const result = spawnSync(process.execPath, [MAIN], { env: { ...process.env, NODE_ENV: 'test', DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'tls-bad-')), ...env }, encoding: 'utf8', timeout: 30_000 });
      return { status: result.status, stderr: result.stderr.trim() };
    };
    const server = pki.server('bad');
    const other = pki.server('other');
    expect(start({ TLS_CERT_FILE: '/nonexistent/tls.crt', TLS_KEY_FILE: server.key })).toEqual({ status: 1, stderr: 'Invalid configuration: TLS_CERT_FILE: cannot read /nonexistent/tls.crt (ENOENT)' });
    expect(start({ TLS_CERT_FILE: server.cert, TLS_KEY_FILE: other.key })).toEqual({
      status: 1,
      stderr: `Invalid configuration: TLS_KEY_FILE: ${other.key} is not the private key of the certificate in ${server.cert}`,
    });
    expect(start({ TRUST_PROXY: 'everyone' })).toMatchObject({ status: 1, stderr: expect.stringMatching(/^Invalid configuration: TRUST_PROXY: must be a hop count/) });
  });

  it('the gateway reaches the service over HTTPS with its client certificate as its only credential, and forwards a verified call', async () => {
    const identity = pki.client('gateway-e2e', GATEWAY_ID);
    gateway = await startGateway({
      KEY_SERVICE_URL: service.baseUrl,
      KEY_SERVICE_TLS_CA_FILE: pki.caCert,
      KEY_SERVICE_TLS_CERT_FILE: identity.cert,
      KEY_SERVICE_TLS_KEY_FILE: identity.key,
      UPSTREAM_URL: upstream.url,
      FEED_MAX_SILENCE_MS: '5000',
    });
    const owner = service.token('team-1', '100', 'owner');
    const dispatcher = new Agent({ connect: { ca: fs.readFileSync(pki.caCert) } });
    const created = await request(`${service.baseUrl}/v2/gen-ai/models/api_keys`, {
      method: 'POST',
      dispatcher,
      headers: { authorization: `Bearer ${owner}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'tls-e2e' }),
    });
    const key = ((await created.body.json()) as { api_key_info: { uuid: string; secret_key: string } }).api_key_info;
    await dispatcher.close();
    expect(await gateway.chat(key.secret_key)).toMatchObject({ status: 200 });
    expect(upstream.calls.at(-1)?.keyUuid).toBe(key.uuid);
    expect(await (await fetch(`${gateway.baseUrl}/readyz`)).json()).toEqual({ status: 'ready' });
  });

  it('a gateway with a valid token but no client certificate is refused by the service, and says why', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gateway-token-file-'));
    fs.writeFileSync(path.join(dir, 'token'), service.token('platform', 'gw-2', 'gateway'));
    await expect(
      startGateway({ KEY_SERVICE_URL: service.baseUrl, KEY_SERVICE_TLS_CA_FILE: pki.caCert, GATEWAY_TOKEN_FILE: path.join(dir, 'token'), UPSTREAM_URL: upstream.url }),
    ).rejects.toThrow('role gateway must connect with a verified client certificate (TLS_REQUIRE_CLIENT_CERT_FOR)');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
