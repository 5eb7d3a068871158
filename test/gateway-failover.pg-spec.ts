import { GatewayClient, Revocation } from '@lib/gateway-client';
import { GatewayProcess, Upstream, eventually, startGateway, startUpstream } from './support/gateway-process';
import { freshDatabase } from './support/postgres';
import { ServiceProcess, api, startService } from './support/service-process';

const KEYS = '/v2/gen-ai/models/api_keys';
/** The fail-closed bound of the clients under test: after this long without the feed, no cached answer. */
const BOUND_MS = 1000;

interface Sample {
  readonly at: number;
  readonly cached: boolean;
  readonly connected: boolean;
  readonly fresh: boolean;
  readonly contactAgeMs: number | null;
  readonly feedServiceUrl: string | null;
}

/**
 * Two key service instances on one PostgreSQL store (npm run test:postgres), a GatewayClient and the
 * reference gateway given both URLs. The instance the feed follows dies (kill -9, then SIGSTOP): the
 * client moves to the other, resumes from its position, misses no revocation, and while it moves
 * never serves a cached answer past its fail-closed bound.
 */
describe('a gateway following a fleet of two instances on one PostgreSQL store', () => {
  let database: string;
  let a: ServiceProcess;
  let b: ServiceProcess;
  let upstream: Upstream;
  let gateway: GatewayProcess | undefined;
  let client: GatewayClient | undefined;
  let owner: string;
  let gatewayToken: string;
  /** One store and one master key for both; each instance keeps its own DATA_DIR (and views). */
  const env = () => ({
    EVENT_STORE: 'postgres',
    DATABASE_URL: database,
    KEY_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
    REVOCATION_HEARTBEAT_MS: '200',
  });

  beforeAll(async () => {
    database = await freshDatabase();
    // One after the other: the first creates the tables.
    a = await startService({ env: env() });
    b = await startService({ env: env() });
    upstream = await startUpstream();
    owner = b.token('team-1', 'u1', 'owner');
    gatewayToken = b.token('platform', 'gw', 'gateway');
  });
  afterAll(async () => {
    await client?.stop();
    await gateway?.kill();
    for (const instance of [a, b]) {
      instance?.child.kill('SIGCONT');
      await instance?.kill();
    }
    await upstream?.close();
  });

  const createKeys = async (count: number) => {
    const keys: Array<{ uuid: string; secret: string }> = [];
    for (let i = 0; i < count; i++) {
      const res = await api(b.baseUrl, 'POST', KEYS, owner, { name: `k${i}` });
      expect(res.status).toBe(200);
      keys.push({ uuid: res.body.api_key_info.uuid, secret: res.body.api_key_info.secret_key });
    }
    return keys;
  };
  const headOf = async (instance: ServiceProcess): Promise<number> =>
    (await api(instance.baseUrl, 'GET', '/v1/revocations?after=0&limit=1', gatewayToken)).body.head_position;
  /** Every revocation in the store after `after`, read from `instance`, by position. */
  const revocationsAfter = async (instance: ServiceProcess, after: number): Promise<Revocation[]> => {
    const all: Revocation[] = [];
    for (;;) {
      const page = (await api(instance.baseUrl, 'GET', `/v1/revocations?after=${after}&limit=500`, gatewayToken)).body;
      all.push(...page.revocations);
      if (page.revocations.length < 500) return all;
      after = page.next_after;
    }
  };
  const caughtUp = async (instance: ServiceProcess, to: ServiceProcess) => {
    const head = await headOf(to);
    await eventually(async () => (await headOf(instance)) >= head, 10_000, `${instance.baseUrl} catching up to ${head}`);
  };
  const sampler = (secret: string) => {
    const samples: Sample[] = [];
    const timer = setInterval(() => {
      const status = client!.status();
      samples.push({
        at: Date.now(),
        cached: client!.verifyCached(secret) !== undefined,
        connected: status.feedConnected,
        fresh: status.feedFresh,
        contactAgeMs: status.lastContactAgeMs,
        feedServiceUrl: status.feedServiceUrl,
      });
    }, 5);
    return { samples, stop: () => clearInterval(timer) };
  };

  it('kill -9 of the followed instance during revocations: the client moves to the other, resumes from its position and misses none', async () => {
    const keys = await createKeys(41);
    const kept = keys[0];
    const revoked = keys.slice(1);
    client = new GatewayClient({
      serviceUrls: [a.baseUrl, b.baseUrl],
      token: gatewayToken,
      feed: { kind: 'stream' },
      maxFeedSilenceMs: BOUND_MS,
      requestTimeoutMs: 500,
      feedIdleTimeoutMs: 5000,
      feedMinBackoffMs: 50,
      feedMaxBackoffMs: 500,
    });
    const delivered = new Map<number, Revocation>();
    client.on('revocation', (revocation: Revocation) => delivered.set(revocation.position, revocation));
    const failovers: string[] = [];
    client.on('failover', (from: string, to: string) => failovers.push(`${from} -> ${to}`));
    await client.start();
    await client.waitUntilFresh(5000);
    gateway = await startGateway({
      KEY_SERVICE_URL: `${a.baseUrl},${b.baseUrl}`,
      GATEWAY_TOKEN: gatewayToken,
      UPSTREAM_URL: upstream.url,
      FEED_MAX_SILENCE_MS: String(BOUND_MS),
    });
    await eventually(async () => (await fetch(`${gateway!.baseUrl}/readyz`)).status === 200, 5000, 'the gateway ready');
    const startedFrom = client.status().position;
    expect(client.status()).toMatchObject({ feedServiceUrl: a.baseUrl, serviceUrl: a.baseUrl, serviceMoves: 0 });

    // Every key verified once by the client and the gateway, from a (the followed instance), once a has them all.
    await caughtUp(a, b);
    await new Promise((resolve) => client!.once('heartbeat', resolve));
    for (const key of keys) {
      expect(await client.verify(key.secret)).toMatchObject({ valid: true, source: 'service' });
      expect((await gateway.chat(key.secret)).status).toBe(200);
    }
    expect(keys.every((key) => client!.verifyCached(key.secret)?.valid === true)).toBe(true);

    const watch = sampler(kept.secret);
    let killedAt = 0;
    const revokeAt = new Map<string, 'regenerate' | 'delete'>();
    for (const [i, key] of revoked.entries()) {
      if (i === Math.floor(revoked.length / 3)) {
        // a has delivered some of the burst: now it dies, with no goodbye.
        await eventually(async () => client!.status().position > startedFrom, 5000, 'a revocation from a');
        expect(client.status().feedServiceUrl).toBe(a.baseUrl);
        killedAt = Date.now();
        await a.kill('SIGKILL');
      }
      const how = i % 2 === 0 ? 'regenerate' : 'delete';
      revokeAt.set(key.uuid, how);
      const res = await api(b.baseUrl, how === 'regenerate' ? 'PUT' : 'DELETE', how === 'regenerate' ? `${KEYS}/${key.uuid}/regenerate` : `${KEYS}/${key.uuid}`, owner);
      expect(res.status).toBe(200);
    }

    const inStore = await revocationsAfter(b, startedFrom);
    const last = Math.max(...inStore.map((r) => r.position));
    const movedWithin = await eventually(async () => client!.status().position >= last, 10_000, 'the client at the last revocation');
    watch.stop();

    // It moved once, to b, and follows b now; so do the verification calls.
    expect(failovers).toEqual([`${a.baseUrl} -> ${b.baseUrl}`]);
    expect(client.status()).toMatchObject({ feedServiceUrl: b.baseUrl, serviceUrl: b.baseUrl, serviceMoves: 1, feedConnected: true });
    // No gap: every revocation the store holds after the start reached the client, part from a, the rest from b.
    expect(inStore.map((r) => r.position).filter((position) => !delivered.has(position))).toEqual([]);
    expect(new Set(inStore.map((r) => r.key_uuid))).toEqual(new Set(revoked.map((key) => key.uuid)));
    // Every revoked secret is refused, by the cache and online, by the client and by the gateway.
    for (const key of revoked) {
      expect(client.verifyCached(key.secret)?.valid).not.toBe(true);
      expect(await client.verify(key.secret)).toMatchObject({ valid: false, code: 'NOT_FOUND', source: 'service' });
      expect((await gateway.chat(key.secret)).status).toBe(401);
    }
    expect(await client.verify(kept.secret)).toMatchObject({ valid: true });
    expect((await gateway.chat(kept.secret)).status).toBe(200);
    const gatewayStatus = await gateway.status();
    expect(gatewayStatus).toMatchObject({ feedServiceUrl: b.baseUrl, serviceMoves: 1, feedConnected: true });
    expect(gatewayStatus.position).toBeGreaterThanOrEqual(last);

    // During the move: no cached answer while the feed was down, none past the bound; and the move was seen.
    const during = watch.samples.filter((sample) => sample.at >= killedAt);
    expect(during.filter((sample) => sample.cached && (!sample.connected || (sample.contactAgeMs ?? Infinity) > BOUND_MS))).toEqual([]);
    expect(during.some((sample) => !sample.connected && !sample.cached)).toBe(true);
    expect(during.at(-1)?.feedServiceUrl).toBe(b.baseUrl);
    expect(movedWithin).toBeLessThan(10_000);
  });

  it('an instance that hangs (SIGSTOP): cached answers stop at the bound, a verification call times out onto the other, and the feed follows it', async () => {
    // a comes back on its address; the client follows b now.
    a = await startService({ dataDir: a.dataDir, env: { ...env(), PORT: new URL(a.baseUrl).port, GRPC_PORT: a.grpcAddress.split(':')[1] } });
    const [kept, uncached, revoked] = await createKeys(3);
    await caughtUp(a, b);
    await new Promise((resolve) => client!.once('heartbeat', resolve));
    expect(client!.status().feedServiceUrl).toBe(b.baseUrl);
    expect(await client!.verify(kept.secret)).toMatchObject({ valid: true, source: 'service' });
    expect(client!.verifyCached(kept.secret)?.valid).toBe(true);

    const watch = sampler(kept.secret);
    const stoppedAt = Date.now();
    b.child.kill('SIGSTOP');
    // The stream to b stays open and silent: its answers are trusted up to the bound, and not after.
    await eventually(
      async () => watch.samples.some((sample) => sample.connected && sample.feedServiceUrl === b.baseUrl && !sample.cached),
      5000,
      'the bound passed on the hung stream',
    );
    // The stopped instance accepts connections but answers nothing: the call gives up after requestTimeoutMs and asks a.
    const calledAt = Date.now();
    const online = await client!.verify(uncached.secret);
    expect(online).toMatchObject({ valid: true, source: 'service' });
    expect(Date.now() - calledAt).toBeGreaterThanOrEqual(500);
    expect(client!.status().serviceUrl).toBe(a.baseUrl);
    expect(client!.verifyCached(uncached.secret)).toBeUndefined();
    // The feed leaves b with the verification calls, well before its own idle timeout (5 s of silence).
    await eventually(async () => client!.status().feedServiceUrl === a.baseUrl, 10_000, 'the feed on a');
    expect(Date.now() - stoppedAt).toBeLessThan(5000);
    const res = await api(a.baseUrl, 'DELETE', `${KEYS}/${revoked.uuid}`, owner);
    expect(res.status).toBe(200);
    await eventually(async () => (await client!.verify(revoked.secret)).valid === false, 5000, 'the revoked key refused');
    watch.stop();
    b.child.kill('SIGCONT');

    const samples = watch.samples;
    // The bound held: never a cached answer past it, though the feed still counted as connected to b for a while.
    expect(samples.filter((sample) => sample.cached && (sample.contactAgeMs ?? Infinity) > BOUND_MS)).toEqual([]);
    const refusedWhileHung = samples.filter((sample) => sample.connected && sample.feedServiceUrl === b.baseUrl && !sample.cached);
    expect(refusedWhileHung.length).toBeGreaterThan(0);
    expect(refusedWhileHung.every((sample) => (sample.contactAgeMs ?? 0) > BOUND_MS)).toBe(true);
    // And before the bound, the cache still answered (the bound is not zero).
    expect(samples.some((sample) => sample.cached && sample.feedServiceUrl === b.baseUrl)).toBe(true);
    expect(client!.status()).toMatchObject({ feedServiceUrl: a.baseUrl, feedConnected: true });
  });
});
