import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { TokenService } from '../../../apps/key-service/src/auth/token.service';
import { loadConfig } from '../../../apps/key-service/src/config/app.config';
import { createApp } from '../../../apps/key-service/src/http-app';
import { Pki, createPki } from '../../../test/support/pki';
import { ClientCredentialsTokenSource, FileTokenSource } from './credentials/token-sources';
import { GatewayClient } from './gateway-client';

const KEYS = '/v2/gen-ai/models/api_keys';
const silent = { log: () => undefined, warn: () => undefined };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The key service listening on loopback (HTTPS when `env` sets TLS_*), and an owner's key to verify. */
async function startService(env: NodeJS.ProcessEnv = {}) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gateway-credentials-'));
  const config = loadConfig({ DATA_DIR: dataDir, NODE_ENV: 'test', LOG_LEVEL: 'error', REVOCATION_HEARTBEAT_MS: '100', ...env });
  const app: NestFastifyApplication = await createApp(config, { grpc: false });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpAdapter().getInstance().server.address() as { port: number };
  const tokens = app.get(TokenService);
  const key = (
    await app.inject({
      method: 'POST',
      url: KEYS,
      headers: { authorization: `Bearer ${tokens.sign({ teamId: 'team-1', userId: 'u1', role: 'owner' })}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ name: 'k' }),
    })
  ).json().api_key_info as { uuid: string; secret_key: string };
  return {
    app,
    tokens,
    key,
    url: `${config.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    gatewayToken: (ttlSeconds?: number) => tokens.sign({ teamId: 'platform', userId: 'gw', role: 'gateway' }, ttlSeconds),
    close: async () => {
      await app.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
type Service = Awaited<ReturnType<typeof startService>>;

describe('GatewayClient over HTTPS and mutual TLS', () => {
  let pki: Pki;
  let service: Service;
  beforeAll(async () => {
    pki = createPki();
    const server = pki.server('service');
    service = await startService({ TLS_CERT_FILE: server.cert, TLS_KEY_FILE: server.key, TLS_CLIENT_CA_FILE: pki.caCert, TLS_REQUIRE_CLIENT_CERT_FOR: 'gateway' });
  });
  afterAll(async () => {
    await service?.close();
    pki?.remove();
  });
  const read = (file: string) => fs.readFileSync(file);

  it('its client certificate alone is its identity: feed and verification over mTLS, no token', async () => {
    const identity = pki.client('gw-1', 'spiffe://example.org/team/platform/role/gateway/user/gw-1');
    const client = new GatewayClient({ serviceUrl: service.url, tls: { ca: read(pki.caCert), cert: read(identity.cert), key: read(identity.key) }, feed: { kind: 'stream' } });
    await client.start();
    try {
      await client.waitUntilFresh();
      expect(await client.verify(service.key.secret_key)).toMatchObject({ valid: true, source: 'service', keyUuid: service.key.uuid });
      expect(client.readiness()).toEqual({ ready: true });
    } finally {
      await client.stop();
    }
  });

  it('a token over HTTPS with a client certificate passes; the same token without the certificate is refused, naming the reason', async () => {
    // With TLS_REQUIRE_CLIENT_CERT_FOR=gateway the certificate must name the token's team and role.
    const identity = pki.client('gw-2', 'spiffe://example.org/team/platform/role/gateway/user/gw-2');
    const withCert = new GatewayClient({ serviceUrl: service.url, token: service.gatewayToken(), tls: { ca: read(pki.caCert), cert: read(identity.cert), key: read(identity.key) }, feed: { kind: 'stream' } });
    await withCert.start();
    await withCert.waitUntilFresh();
    expect(await withCert.verify(service.key.secret_key)).toMatchObject({ valid: true, source: 'service' });
    await withCert.stop();
    const withoutCert = new GatewayClient({ serviceUrl: service.url, token: service.gatewayToken(), tls: { ca: read(pki.caCert) }, feed: { kind: 'stream' } });
    await expect(withoutCert.start()).rejects.toThrow("cannot read the revocation feed's head: 403 role gateway must connect with a verified client certificate (TLS_REQUIRE_CLIENT_CERT_FOR)");
    await withoutCert.stop();
    // Without the CA, the service's certificate is not trusted at all.
    const untrusting = new GatewayClient({ serviceUrl: service.url, token: service.gatewayToken(), feed: { kind: 'stream' } });
    await expect(untrusting.start()).rejects.toThrow(/certificate/);
    await untrusting.stop();
  });
});

describe('gateway tokens that renew: a file re-read on change, the OAuth 2.0 client credentials grant', () => {
  let service: Service;
  let dir: string;
  beforeAll(async () => {
    service = await startService();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gateway-token-'));
  });
  afterAll(async () => {
    await service?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('GATEWAY_TOKEN_FILE: a token written over the file is used once the first one has expired; an emptied file keeps the last token', async () => {
    const file = path.join(dir, 'token');
    fs.writeFileSync(file, `${service.gatewayToken(2)}\n`);
    const source = new FileTokenSource(file, silent, 50);
    const client = new GatewayClient({ serviceUrl: service.url, tokenSource: source, feed: { kind: 'stream' }, maxFeedSilenceMs: 60_000 });
    await client.start();
    try {
      expect(await client.verify(service.key.secret_key, { model: 'a' })).toMatchObject({ valid: true, source: 'service' });
      // The short-lived token is renewed on disk, as a secret mount or a sidecar would.
      const renewed = service.gatewayToken(3600);
      fs.writeFileSync(file, renewed);
      const deadline = Date.now() + 5000;
      while (source.current() !== renewed && Date.now() < deadline) await sleep(20);
      expect(source.current()).toBe(renewed);
      await sleep(2100); // the first token has expired by now
      expect(await client.verify(service.key.secret_key, { model: 'b' })).toMatchObject({ valid: true, source: 'service' });
      expect(client.readiness().ready).toBe(true);
      fs.writeFileSync(file, '');
      await sleep(200);
      expect(source.current()).toBe(renewed);
      fs.writeFileSync(file, 'not-a-token\n'); // half-written, or the wrong file mounted
      await sleep(200);
      expect(source.current()).toBe(renewed);
    } finally {
      await client.stop();
    }
  });

  it('client credentials: fetched from a token endpoint, renewed before it expires; a bad secret fails start-up with the endpoint\'s error', async () => {
    const grants: Array<{ authorization?: string; body: string }> = [];
    const endpoint = http.createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        grants.push({ authorization: request.headers.authorization, body });
        const form = new URLSearchParams(body);
        const ok = request.headers.authorization === `Basic ${Buffer.from('gateway-1:s3cret%2F').toString('base64')}` && form.get('grant_type') === 'client_credentials';
        response.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
        // Short-lived on purpose, signed with the key service's (development) secret. expires_in (2 s) is
        // shorter than the token's exp (4 s, whole seconds), so each renewal comes while the last token is valid.
        response.end(JSON.stringify(ok ? { access_token: service.gatewayToken(4), token_type: 'Bearer', expires_in: 2 } : { error: 'invalid_client', error_description: 'bad secret' }));
      });
    });
    await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
    const tokenUrl = `http://127.0.0.1:${(endpoint.address() as { port: number }).port}/oauth/token`;
    try {
      const source = new ClientCredentialsTokenSource({ tokenUrl, clientId: 'gateway-1', clientSecret: () => 's3cret/', scope: 'keys:verify', audience: 'model-keys', logger: silent });
      const client = new GatewayClient({ serviceUrl: service.url, tokenSource: source, feed: { kind: 'stream' }, maxFeedSilenceMs: 60_000 });
      await client.start();
      try {
        expect(new URLSearchParams(grants[0].body).toString()).toBe('grant_type=client_credentials&scope=keys%3Averify&audience=model-keys');
        expect(await client.verify(service.key.secret_key, { model: 'a' })).toMatchObject({ valid: true, source: 'service' });
        await sleep(4500); // past the first token's exp: renewed every 1.6 s (80% of expires_in)
        expect(grants.length).toBeGreaterThanOrEqual(3);
        expect(await client.verify(service.key.secret_key, { model: 'b' })).toMatchObject({ valid: true, source: 'service' });
        expect(client.readiness()).toMatchObject({ ready: true });
      } finally {
        await client.stop();
      }
      const bad = new ClientCredentialsTokenSource({ tokenUrl, clientId: 'gateway-1', clientSecret: 'wrong', logger: silent });
      await expect(bad.start()).rejects.toThrow('the token endpoint answered 401 (invalid_client: bad secret)');
    } finally {
      await new Promise((resolve) => endpoint.close(resolve));
    }
  });

  it('client credentials: an expires_in longer than the token holds (a year, over the timer limit) renews by the token\'s exp, without a fetch loop', async () => {
    let grants = 0;
    const endpoint = http.createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        grants++;
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ access_token: service.gatewayToken(3), token_type: 'Bearer', expires_in: 31_536_000 }));
      });
    });
    await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
    const tokenUrl = `http://127.0.0.1:${(endpoint.address() as { port: number }).port}/oauth/token`;
    const source = new ClientCredentialsTokenSource({ tokenUrl, clientId: 'gateway-1', clientSecret: 'x', logger: silent });
    try {
      await source.start();
      const first = source.current();
      await sleep(1000);
      expect(grants).toBe(1); // no loop: a year's delay is not fired at once
      await sleep(2500); // 80% of the token's own 3 s lifetime has passed
      expect(grants).toBeGreaterThanOrEqual(2);
      expect(grants).toBeLessThanOrEqual(4);
      expect(source.current()).not.toBe(first);
    } finally {
      source.stop();
      await new Promise((resolve) => endpoint.close(resolve));
    }
  });

  it('readiness reports a token about to expire (a tenth of its lifetime, or the margin given), and an expired one', async () => {
    const soon = new GatewayClient({ serviceUrl: service.url, token: service.gatewayToken(3600), feed: { kind: 'stream' }, tokenExpiryWarningMs: 2 * 3600 * 1000 });
    await soon.start();
    await soon.waitUntilFresh();
    expect(soon.readiness()).toMatchObject({ ready: true, warning: { reason: 'token_expiring' } });
    const now = Date.now();
    expect(soon.readiness(now + 3600 * 1000 + 1000)).toMatchObject({ ready: false, reason: 'token_expired' });
    await soon.stop();
    const tenth = new GatewayClient({ serviceUrl: service.url, token: service.gatewayToken(1000), feed: { kind: 'stream' }, maxFeedSilenceMs: 3_600_000 });
    await tenth.start();
    await tenth.waitUntilFresh();
    expect(tenth.readiness()).toEqual({ ready: true });
    expect(tenth.readiness(Date.now() + 905_000)).toMatchObject({ ready: true, warning: { reason: 'token_expiring' } });
    await tenth.stop();
  });
});
