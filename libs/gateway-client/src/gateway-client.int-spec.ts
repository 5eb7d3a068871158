import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { TokenService } from '../../../apps/key-service/src/auth/token.service';
import { loadConfig } from '../../../apps/key-service/src/config/app.config';
import { createApp } from '../../../apps/key-service/src/http-app';
import { GatewayClient } from './gateway-client';
import { VerifyAnswer } from './types';
import { MAX_USAGE_COUNT } from './usage/usage-reporter';

const KEYS = '/v2/gen-ai/models/api_keys';

/** The next `event` the client emits; rejects after `timeoutMs` (ms) so that a missed event fails the test instead of hanging it. */
const nextEvent = (gateway: GatewayClient, event: string, timeoutMs: number) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} event within ${timeoutMs} ms`)), timeoutMs);
    gateway.once(event, () => {
      clearTimeout(timer);
      resolve();
    });
  });

/**
 * The client library against the service listening on loopback (SSE feed). The service's clock is
 * frozen at the start, so its expiry scheduler never fires here: what expires does so in the client.
 */
describe('GatewayClient on the revocation stream', () => {
  let app: NestFastifyApplication;
  let baseUrl: string;
  let dataDir: string;
  let owner: string;
  let gatewayToken: string;
  const frozen = new Date();

  const start = async () => {
    const config = loadConfig({ DATA_DIR: dataDir, NODE_ENV: 'test', LOG_LEVEL: 'error', PORT: '0', REVOCATION_HEARTBEAT_MS: '100' });
    app = await createApp(config, { grpc: false, clock: { now: () => frozen } });
    await app.listen(0, '127.0.0.1');
    baseUrl = await app.getUrl();
    const tokens = app.get(TokenService);
    owner = tokens.sign({ teamId: 'team-1', userId: 'u1', role: 'owner' });
    gatewayToken = tokens.sign({ teamId: 'platform', userId: 'gw', role: 'gateway' });
  };

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gateway-client-'));
    await start();
  });
  afterAll(async () => {
    await app?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const call = async (method: string, url: string, body?: unknown) => {
    const response = await fetch(`${baseUrl}${url}`, {
      method,
      headers: { authorization: `Bearer ${owner}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return (await response.json()) as any;
  };
  const client = (options: Partial<ConstructorParameters<typeof GatewayClient>[0]> = {}) =>
    new GatewayClient({ serviceUrl: baseUrl, token: gatewayToken, feed: { kind: 'stream' }, maxFeedSilenceMs: 500, ...options });

  it('given several instances, passes over one that refuses connections and one that answers 503, and follows the live one', async () => {
    const refusing = await new Promise<string>((resolve) => {
      const server = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(`http://127.0.0.1:${port}`));
      });
    });
    const unready = http.createServer((_req, res) => res.writeHead(503, { 'content-type': 'application/json' }).end('{"message":"not ready"}'));
    await new Promise<void>((resolve) => unready.listen(0, '127.0.0.1', resolve));
    const unreadyUrl = `http://127.0.0.1:${(unready.address() as net.AddressInfo).port}`;
    const gateway = client({ serviceUrl: undefined, serviceUrls: [refusing, unreadyUrl, baseUrl] });
    const failovers: string[] = [];
    gateway.on('failover', (from: string, to: string) => failovers.push(`${from} -> ${to}`));
    try {
      const key = (await call('POST', KEYS, { name: 'k' })).api_key_info;
      // One verification call moves over both.
      expect(await gateway.verify(key.secret_key)).toMatchObject({ valid: true, source: 'service' });
      expect(failovers).toEqual([`${refusing} -> ${unreadyUrl}`, `${unreadyUrl} -> ${baseUrl}`]);
      await gateway.start();
      await gateway.waitUntilFresh();
      expect(gateway.status()).toMatchObject({ serviceUrl: baseUrl, feedServiceUrl: baseUrl, serviceMoves: 2 });
      expect(await gateway.verify(key.secret_key)).toMatchObject({ valid: true, source: 'service' });
      expect(gateway.verifyCached(key.secret_key)).toMatchObject({ valid: true, source: 'cache' });
    } finally {
      await gateway.stop();
      await new Promise((resolve) => unready.close(resolve));
    }
  });

  it('does not cache the answers of an instance whose views are behind the position the client has reached', async () => {
    const key = (await call('POST', KEYS, { name: 'k' })).api_key_info;
    // As if the client had followed another instance further than this one has got: it resumes ahead of its head.
    const positionFile = path.join(dataDir, 'ahead.json');
    fs.writeFileSync(positionFile, JSON.stringify({ position: 1_000_000 }));
    const gateway = client({ positionFile });
    try {
      await gateway.start();
      await gateway.waitUntilFresh();
      expect(gateway.status().headPosition).toBeLessThan(1_000_000);
      expect(await gateway.verify(key.secret_key)).toMatchObject({ valid: true, source: 'service' });
      expect(gateway.verifyCached(key.secret_key)).toBeUndefined();
    } finally {
      await gateway.stop();
    }
  });

  it('refuses a malformed or repeated service URL, naming the option', () => {
    expect(() => client({ serviceUrl: undefined, serviceUrls: [baseUrl, 'ftp://keys'] })).toThrow('serviceUrls: "ftp://keys" must be an http:// or https:// URL');
    expect(() => client({ serviceUrl: undefined, serviceUrls: [baseUrl, `${baseUrl}/`] })).toThrow(`serviceUrls: "${baseUrl}" is listed twice`);
    expect(() => client({ serviceUrl: undefined, serviceUrls: [] })).toThrow('serviceUrls: at least one key service URL is needed');
    expect(() => client({ serviceUrls: [baseUrl] })).toThrow('serviceUrl, serviceUrls: give one of them, not both');
  });

  it('answers from the cache, and a revocation evicts the answer before the command returns to its caller', async () => {
    const gateway = client();
    await gateway.start();
    await gateway.waitUntilFresh();
    try {
      const key = (await call('POST', KEYS, { name: 'k' })).api_key_info;
      expect(await gateway.verify(key.secret_key)).toMatchObject({ valid: true, source: 'service', keyUuid: key.uuid });
      expect(await gateway.verify(key.secret_key)).toMatchObject({ valid: true, source: 'cache' });
      const revoked = nextEvent(gateway, 'revocation', 10_000);
      await call('PUT', `${KEYS}/${key.uuid}/regenerate`);
      await revoked;
      expect(gateway.verifyCached(key.secret_key)).toBeUndefined();
      expect(await gateway.verify(key.secret_key)).toMatchObject({ valid: false, code: 'NOT_FOUND', source: 'service' });
      expect(gateway.status()).toMatchObject({ feedConnected: true, feedFresh: true, lag: 0 });
    } finally {
      await gateway.stop();
    }
  });

  it('a cached answer turns EXPIRED at expires_at without a call', async () => {
    const gateway = client();
    await gateway.start();
    await gateway.waitUntilFresh();
    try {
      const expiresAt = new Date(Date.now() + 800).toISOString();
      const key = (await call('POST', KEYS, { name: 'k', expires_at: expiresAt })).api_key_info;
      expect(await gateway.verify(key.secret_key)).toMatchObject({ valid: true, expiresAt });
      const calls = gateway.status().serviceCalls;
      await new Promise((r) => setTimeout(r, Date.parse(expiresAt) - Date.now() + 5));
      expect(await gateway.verify(key.secret_key)).toMatchObject({ valid: false, code: 'EXPIRED', source: 'cache' });
      expect(gateway.status().serviceCalls).toBe(calls);
    } finally {
      await gateway.stop();
    }
  });

  it('fails closed when the feed is gone, reconnects after a restart and resumes from its position', async () => {
    const positionFile = path.join(dataDir, 'client-position.json');
    const gateway = client({ positionFile });
    try {
      await gateway.start();
      await gateway.waitUntilFresh();
      const key = (await call('POST', KEYS, { name: 'k' })).api_key_info;
      expect((await gateway.verify(key.secret_key)).valid).toBe(true);

      await app.close();
      await new Promise((r) => setTimeout(r, 600));
      expect(gateway.status().feedFresh).toBe(false);
      expect(gateway.verifyCached(key.secret_key)).toBeUndefined();
      expect(await gateway.verify(key.secret_key)).toMatchObject({ valid: false, code: 'SERVICE_UNAVAILABLE', source: 'fail-closed' });

      const port = new URL(baseUrl).port;
      const config = loadConfig({ DATA_DIR: dataDir, NODE_ENV: 'test', LOG_LEVEL: 'error', REVOCATION_HEARTBEAT_MS: '100' });
      app = await createApp(config, { grpc: false, clock: { now: () => frozen } });
      await app.listen(Number(port), '127.0.0.1');
      await gateway.waitUntilFresh(5000);
      const positionBefore = gateway.status().position;
      // Listen before the command: the feed can deliver the revocation before the DELETE's answer is read.
      const revoked = nextEvent(gateway, 'revocation', 10_000);
      await call('DELETE', `${KEYS}/${key.uuid}`);
      await revoked;
      expect(gateway.status().position).toBeGreaterThan(positionBefore);
      expect(await gateway.verify(key.secret_key)).toMatchObject({ valid: false, code: 'NOT_FOUND' });
    } finally {
      await gateway.stop();
    }
    expect(JSON.parse(fs.readFileSync(positionFile, 'utf8')).position).toBe(gateway.status().position);
  });

  describe('usage reports to the service', () => {
    const valid = (keyUuid: string): VerifyAnswer => ({ valid: true, code: 'VALID', keyUuid, teamId: 'team-1', source: 'service' });
    const warningsOf = () => {
      const warnings: string[] = [];
      return { warnings, logger: { log: () => undefined, warn: (message: string) => void warnings.push(message) } };
    };
    const totalsOf = async (keyUuid: string) => {
      const range = `from=${new Date(Date.now() - 3_600_000).toISOString()}&to=${new Date(Date.now() + 3_600_000).toISOString()}`;
      return (await call('GET', `/v1/usage/keys/${keyUuid}?granularity=minute&${range}`)).totals;
    };

    it("an upstream's absurd token count is held to the service's bound: the batch is taken, with another key's usage", async () => {
      const big = (await call('POST', KEYS, { name: 'big-usage' })).api_key_info;
      const small = (await call('POST', KEYS, { name: 'small-usage' })).api_key_info;
      const { warnings, logger } = warningsOf();
      const gateway = client({ usageReportIntervalMs: 60_000, logger });
      await gateway.recordUsage(valid(big.uuid), { promptTokens: 2e12, completionTokens: 7 });
      await gateway.recordUsage(valid(small.uuid), { promptTokens: 10, completionTokens: 5 });
      await gateway.stop(); // sends what is left
      expect(warnings).toEqual([]);
      expect(await totalsOf(big.uuid)).toMatchObject({ input_tokens: MAX_USAGE_COUNT, output_tokens: 7 });
      expect(await totalsOf(small.uuid)).toMatchObject({ input_tokens: 10, output_tokens: 5 });
    });

    it("a batch the service refuses is dropped with its answer in the warning: the status and the service's message", async () => {
      const key = (await call('POST', KEYS, { name: 'refused-usage' })).api_key_info;
      const { warnings, logger } = warningsOf();
      const gateway = client({ token: owner, usageReportIntervalMs: 60_000, logger }); // an owner may not report usage: 403
      await gateway.recordUsage(valid(key.uuid), { promptTokens: 1, completionTokens: 1 });
      await gateway.stop();
      expect(warnings).toEqual([expect.stringMatching(/^usage report 1 refused by the key service \(403: .{5,200}\); dropped$/)]);
      expect(warnings[0]).not.toContain(owner);
    });
  });
});
