import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TokenService } from '../../../../apps/key-service/src/auth/token.service';
import { loadConfig } from '../../../../apps/key-service/src/config/app.config';
import { createApp } from '../../../../apps/key-service/src/http-app';
import { GatewayClient } from '../gateway-client';
import { SseFeed } from './sse-feed';

/** The feed client against the service on loopback, with a gateway token that expires during the test. */
describe('SseFeed when its token expires', () => {
  let app: NestFastifyApplication;
  let baseUrl: string;
  let dataDir: string;
  let tokens: TokenService;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sse-feed-'));
    const config = loadConfig({ DATA_DIR: dataDir, NODE_ENV: 'test', LOG_LEVEL: 'error', PORT: '0', REVOCATION_HEARTBEAT_MS: '100' });
    app = await createApp(config, { grpc: false });
    await app.listen(0, '127.0.0.1');
    baseUrl = await app.getUrl();
    tokens = app.get(TokenService);
  });
  afterAll(async () => {
    await app?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const shortToken = (ttlSeconds: number) => tokens.sign({ teamId: 'platform', userId: 'gw', role: 'gateway' }, ttlSeconds);

  it('reports the expired token, and retries only every maxBackoffMs instead of spinning', async () => {
    const token = shortToken(1);
    const feed = new SseFeed({ serviceUrls: [baseUrl], token: () => token, minBackoffMs: 10, maxBackoffMs: 400 });
    const disconnects: Array<{ at: number; reason?: string }> = [];
    const refused: string[] = [];
    let heartbeats = 0;
    await feed.start(0, {
      revocation: () => undefined,
      heartbeat: () => heartbeats++,
      connected: (connected, reason) => (connected ? undefined : disconnects.push({ at: Date.now(), reason })),
      tokenRefused: (reason) => refused.push(reason),
    });
    await new Promise((resolve) => setTimeout(resolve, 3000));
    await feed.stop();
    expect(heartbeats).toBeGreaterThan(0);
    // First the service's own end, then the refused reconnects.
    expect(disconnects[0].reason).toBe(
      `the service at ${baseUrl} ended the stream: token_expired (the token this stream was opened with has expired: reconnect with a new one)`,
    );
    expect(refused[0]).toBe(disconnects[0].reason);
    expect(refused.slice(1).every((reason) => reason.startsWith(`the revocation stream of ${baseUrl} answered 401:`) && reason.includes('token expired'))).toBe(true);
    // About 2 s after the end at 400 ms apart: a handful of attempts, not hundreds.
    expect(refused.length).toBeGreaterThanOrEqual(3);
    expect(refused.length).toBeLessThanOrEqual(8);
    const gaps = disconnects.slice(1).map((d, i) => d.at - disconnects[i].at);
    expect(Math.min(...gaps.slice(0, -1))).toBeGreaterThanOrEqual(350);
  });

  it('GatewayClient surfaces it: status().tokenRefused, a `token` event, one warning, and it fails closed', async () => {
    const warnings: string[] = [];
    const client = new GatewayClient({
      serviceUrl: baseUrl,
      token: shortToken(2),
      feed: { kind: 'stream' },
      maxFeedSilenceMs: 500,
      logger: { log: () => undefined, warn: (message) => warnings.push(message) },
    });
    const tokenEvent = new Promise<string>((resolve) => client.once('token', resolve));
    await client.start();
    await client.waitUntilFresh(2000);
    expect(client.status().tokenRefused).toBeNull();
    const reason = await tokenEvent;
    expect(reason).toContain('token_expired');
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(client.status()).toMatchObject({ feedConnected: false, feedFresh: false });
    expect(client.status().tokenRefused).toContain('token expired');
    expect(warnings.filter((w) => w.startsWith('the key service refused the gateway token'))).toHaveLength(1);
    expect((await client.verify('mak_anything')).code).toBe('SERVICE_UNAVAILABLE');
    await client.stop();
  });
});
