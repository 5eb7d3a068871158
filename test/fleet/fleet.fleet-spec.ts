import { randomBytes, randomUUID } from 'node:crypto';
import { ensureDatabase, query } from '../support/postgres';
import { GatewayProcess, Upstream, eventually, startGateway, startUpstream } from '../support/gateway-process';
import { ServiceProcess, api, startService } from '../support/service-process';
import { TopicWatcher } from '../support/topic-watcher';

/**
 * npm run test:fleet: three service instances on one PostgreSQL database and the real Kafka broker
 * (scripts/with-postgres.sh and scripts/with-kafka.sh start them), clients spreading their commands
 * across the instances, and instances killed with -9. See README "Running several instances".
 */
const KEYS = '/v2/gen-ai/models/api_keys';
const BROKERS = process.env.KAFKA_BROKERS;
if (!BROKERS || !process.env.DATABASE_URL) {
  throw new Error('KAFKA_BROKERS and DATABASE_URL must be set: run this suite with `npm run test:fleet`, which starts both servers');
}
/** Short, so that takeovers are seen quickly; the bound is LEASE_TTL_MS whatever its value. */
const LEASE_TTL_MS = 4000;
/** Lease round trips and the poll of /readyz, on a shared 2-core machine. */
const SLACK_MS = 1500;

describe('a fleet: three instances on one PostgreSQL and Kafka', () => {
  const topic = `fleet-revocations-${randomUUID()}`;
  const instances: ServiceProcess[] = [];
  let databaseUrl: string;
  let watcher: TopicWatcher;
  let owner: string;
  const env = () => ({
    EVENT_STORE: 'postgres',
    DATABASE_URL: databaseUrl,
    // One master key for the fleet: every instance opens what another sealed (idempotency answers, data keys).
    KEY_ENCRYPTION_KEY: keyEncryptionKey,
    KAFKA_BROKERS: BROKERS,
    KAFKA_REVOCATIONS_TOPIC: topic,
    REVOCATION_HEARTBEAT_MS: '300',
    LEASE_TTL_MS: String(LEASE_TTL_MS),
    EXPIRY_SCAN_MS: '500',
  });
  const keyEncryptionKey = randomBytes(32).toString('base64');

  const alive = () => instances.filter((i) => i.child.exitCode === null && i.child.signalCode === null);
  /** New instances in place of the killed ones, until three run again. */
  const replenish = async () => {
    while (alive().length < 3) instances.push(await startService({ env: { ...env(), INSTANCE_ID: `fleet-${instances.length}` } }));
  };
  const leases = async (instance: ServiceProcess): Promise<string[]> => {
    try {
      const response = await fetch(`${instance.baseUrl}/readyz`, { signal: AbortSignal.timeout(1000) });
      return ((await response.json()) as { leases?: string[] }).leases ?? [];
    } catch {
      return [];
    }
  };
  const leaderOf = async (lease: string): Promise<ServiceProcess[]> => {
    const held = await Promise.all(alive().map(async (i) => ((await leases(i)).includes(lease) ? i : null)));
    return held.filter((i): i is ServiceProcess => i !== null);
  };
  /** Waits for exactly one live instance to lead `lease`; returns it and how long it took. */
  const singleLeader = async (lease: string, timeoutMs: number) => {
    let leader: ServiceProcess | null = null;
    const took = await eventually(
      async () => {
        const leaders = await leaderOf(lease);
        expect(leaders.length).toBeLessThanOrEqual(1);
        leader = leaders[0] ?? null;
        return leader !== null;
      },
      timeoutMs,
      `one instance to lead ${lease}`,
    );
    return { leader: leader as unknown as ServiceProcess, took };
  };
  const create = (instance: ServiceProcess, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    fetch(`${instance.baseUrl}${KEYS}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${owner}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));

  beforeAll(async () => {
    databaseUrl = await ensureDatabase(`fleet_${randomBytes(4).toString('hex')}`);
    // Started together on an empty database: one creates each table while the others wait for it.
    instances.push(...(await Promise.all([0, 1, 2].map((i) => startService({ env: { ...env(), INSTANCE_ID: `fleet-${i}` } })))));
    owner = instances[0].token('team-1', 'u1', 'owner');
    await singleLeader('revocation-relay', 10_000);
    // The relay creates the topic on its first connection.
    await new Promise((r) => setTimeout(r, 1000));
    watcher = new TopicWatcher(BROKERS!, topic);
    await watcher.start();
  });

  afterAll(async () => {
    await watcher?.stop();
    await Promise.all(instances.map((i) => i.kill('SIGKILL')));
  });

  it('each singleton job runs on exactly one instance', async () => {
    for (const lease of ['revocation-relay', 'expiry-scheduler', 'data-key-sweep']) {
      await singleLeader(lease, 10_000);
    }
    const metrics = await fetch(`${alive()[0].baseUrl}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/key_service_lease_held\{lease="revocation-relay"\} [01]/);
  });

  it('the relay leader killed with -9 mid-burst: another takes the relay within LEASE_TTL_MS, every revocation reaches the topic, and relays never interleave', async () => {
    const { leader } = await singleLeader('revocation-relay', 10_000);
    const keys: string[] = [];
    for (let i = 0; i < 30; i++) {
      const created = await create(alive()[i % alive().length], { name: `burst-${i}` });
      expect(created.status).toBe(200);
      keys.push(created.body.api_key_info.uuid);
    }
    // The burst: regenerates and deletes spread over the instances, the leader killed in the middle.
    let killedAt = 0;
    const burst = keys.map(async (uuid, i) => {
      await new Promise((r) => setTimeout(r, i * 15));
      const target = instances[i % instances.length];
      const name = `burst-${i}`;
      const request =
        i % 2 === 0
          ? fetch(`${target.baseUrl}${KEYS}/${uuid}/regenerate`, { method: 'PUT', headers: { authorization: `Bearer ${owner}`, 'x-confirm-name': name } })
          : fetch(`${target.baseUrl}${KEYS}/${uuid}`, { method: 'DELETE', headers: { authorization: `Bearer ${owner}`, 'x-confirm-name': name } });
      return request.then((r) => r.status).catch(() => 0);
    });
    let statuses: number[] = [];
    const kill = (async () => {
      await new Promise((r) => setTimeout(r, 200));
      killedAt = Date.now();
      await leader.kill('SIGKILL');
    })();
    [statuses] = await Promise.all([Promise.all(burst), kill]);
    // Those sent to the killed instance may have failed; the others were acknowledged.
    const acknowledged = statuses.filter((status) => status === 200 || status === 204).length;
    expect(acknowledged).toBeGreaterThanOrEqual(15);

    const { leader: successor } = await singleLeader('revocation-relay', LEASE_TTL_MS + SLACK_MS);
    expect(successor).not.toBe(leader);
    const tookOverMs = Date.now() - killedAt;
    expect(tookOverMs).toBeLessThanOrEqual(LEASE_TTL_MS + SLACK_MS);
    process.stdout.write(`fleet: the relay moved ${tookOverMs} ms after its leader was killed (LEASE_TTL_MS ${LEASE_TTL_MS})\n`);

    // Every revocation position of the feed (read from a survivor) reaches the topic: duplicates allowed, gaps not.
    const feed = await feedPositions(successor);
    expect(feed.length).toBeGreaterThanOrEqual(acknowledged);
    await eventually(async () => feed.every((p) => watcher.positions.has(p)), 20_000, 'every revocation position in the topic');
    // In the topic's order the fencing token never goes down: no old leader produced after a takeover.
    const tokens = watcher.revocations.map((r) => r.fencingToken);
    expect(tokens.every((t) => Number.isInteger(t) && t >= 1)).toBe(true);
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBeGreaterThanOrEqual(tokens[i - 1]);
    expect(new Set(tokens).size).toBeGreaterThanOrEqual(2);

    async function feedPositions(instance: ServiceProcess): Promise<number[]> {
      const gatewayToken = instance.token('platform', 'gw', 'gateway');
      const positions: number[] = [];
      for (let after = 0; ; ) {
        const page = await api(instance.baseUrl, 'GET', `/v1/revocations?after=${after}&limit=500`, gatewayToken);
        expect(page.status).toBe(200);
        const items = page.body.revocations as Array<{ position: number }>;
        positions.push(...items.map((r) => r.position));
        if (items.length < 500) return positions;
        after = items[items.length - 1].position;
      }
    }
  });

  it('another instance killed with -9 under load: every acknowledged command is there, read from the survivors', async () => {
    const victim = alive()[0];
    const acknowledged: Array<{ uuid: string; name: string }> = [];
    let stop = false;
    const writers = alive().map(async (instance, w) => {
      for (let i = 0; !stop; i++) {
        const name = `load-${w}-${i}`;
        const created = await create(instance, { name }).catch(() => null);
        if (created?.status === 200) acknowledged.push({ uuid: created.body.api_key_info.uuid, name });
        if (instance.child.exitCode !== null || instance.child.signalCode !== null) return;
      }
    });
    await new Promise((r) => setTimeout(r, 1500));
    await victim.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 1000));
    stop = true;
    await Promise.all(writers);
    expect(acknowledged.length).toBeGreaterThan(10);
    for (const survivor of alive()) {
      await eventually(async () => (await fetch(`${survivor.baseUrl}/readyz`)).status === 200, 10_000, 'the survivor to catch up');
      for (const { uuid, name } of acknowledged) {
        const read = await api(survivor.baseUrl, 'GET', `${KEYS}/${uuid}`, owner);
        expect([uuid, read.status, read.body?.api_key_info?.name]).toEqual([uuid, 200, name]);
      }
    }
  });

  it('an idempotent create sent to one instance and retried on another: the same answer, the same secret, one key', async () => {
    await replenish();
    const [first, second] = alive();
    expect(first).not.toBe(second);
    const name = `idem-${randomUUID().slice(0, 8)}`;
    const headers = { 'idempotency-key': `fleet-${randomUUID()}` };
    const a = await create(first, { name }, headers);
    const b = await create(second, { name }, headers);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(b.body).toEqual(a.body);
    expect(b.body.api_key_info.secret_key).toBe(a.body.api_key_info.secret_key);
    const rows = await query<{ n: string }>(databaseUrl, `SELECT count(*) AS n FROM events WHERE type = 'ModelAccessKeyCreated' AND data->>'name' = $1`, [name]);
    expect(Number(rows[0].n)).toBe(1);
    // The same key with another body is still refused, on any instance.
    const reused = await create(first, { name: `${name}-other` }, headers);
    expect([reused.status, reused.body.code]).toEqual([422, 'IDEMPOTENCY_KEY_REUSED']);
  });

  it('keys expire while the scheduler leader is killed: each gets ModelAccessKeyExpired exactly once', async () => {
    await replenish();
    const { leader } = await singleLeader('expiry-scheduler', 10_000);
    const expiresAt = new Date(Date.now() + 3000).toISOString();
    const uuids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const created = await create(alive()[i % alive().length], { name: `expiring-${i}`, expires_at: expiresAt });
      expect(created.status).toBe(200);
      uuids.push(created.body.api_key_info.uuid);
    }
    // Killed just before the keys fall due: a successor must expire them.
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(expiresAt) - Date.now() - 300)));
    await leader.kill('SIGKILL');
    const killedAt = Date.now();
    const { leader: successor } = await singleLeader('expiry-scheduler', LEASE_TTL_MS + SLACK_MS);
    process.stdout.write(`fleet: the expiry scheduler moved ${Date.now() - killedAt} ms after its leader was killed\n`);
    expect(successor).not.toBe(leader);
    const counts = async () =>
      query<{ stream_id: string; n: string }>(
        databaseUrl,
        `SELECT stream_id, count(*) AS n FROM events WHERE type = 'ModelAccessKeyExpired' AND stream_id = ANY($1::text[]) GROUP BY stream_id`,
        [uuids.map((u) => `model_access_key-${u}`)],
      );
    await eventually(async () => (await counts()).length === uuids.length, 15_000, 'every key to expire');
    // And stays so: no second event from a late or second scheduler.
    await new Promise((r) => setTimeout(r, 2000));
    const rows = await counts();
    expect(rows).toHaveLength(uuids.length);
    expect(rows.every((r) => Number(r.n) === 1)).toBe(true);
  });

  it('two gateways follow the fleet: the instance one follows is killed with -9; it moves, resumes from its position, misses no revocation, and its fail-closed bound holds while it moves', async () => {
    await replenish();
    const BOUND_MS = 1000;
    const urls = alive().map((i) => i.baseUrl);
    const upstream: Upstream = await startUpstream();
    const gatewayToken = alive()[0].token('platform', 'gw', 'gateway');
    const gatewayEnv = (serviceUrls: string[]) => ({
      KEY_SERVICE_URL: serviceUrls.join(','),
      GATEWAY_TOKEN: gatewayToken,
      UPSTREAM_URL: upstream.url,
      FEED_MAX_SILENCE_MS: String(BOUND_MS),
    });
    // In opposite orders: the two follow different instances.
    const gateways: GatewayProcess[] = [await startGateway(gatewayEnv(urls)), await startGateway(gatewayEnv([...urls].reverse()))];
    try {
      for (const gateway of gateways) await eventually(async () => (await gateway.status()).feedFresh === true, 10_000, 'the gateway feed to be live');
      const keys: Array<{ uuid: string; name: string; secret: string }> = [];
      for (let i = 0; i < 16; i++) {
        const name = `gw-${i}`;
        const created = await create(alive()[i % alive().length], { name });
        expect(created.status).toBe(200);
        keys.push({ uuid: created.body.api_key_info.uuid, name, secret: created.body.api_key_info.secret_key });
      }
      // Every secret admitted (and cached) at both gateways first.
      for (const gateway of gateways) {
        for (const key of keys) await eventually(async () => (await gateway.chat(key.secret)).status === 200, 5000, `${key.name} admitted`);
      }
      const followed = (await gateways[0].status()).feedServiceUrl as string;
      const victim = alive().find((i) => i.baseUrl === followed)!;
      expect(victim).toBeDefined();
      const startedFrom = (await gateways[0].status()).position as number;
      await victim.kill('SIGKILL');
      const survivors = alive();

      // While the first gateway moves: revocations on the survivors, and every revoked secret tried again and
      // again. Past its bound after the revocation was acknowledged, no gateway may still admit it.
      const [revoked, kept] = [keys.slice(0, 12), keys.slice(12)];
      const acknowledgedAt = new Map<string, number>();
      const admittedLate: string[] = [];
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          for (const key of revoked) {
            const ackedAt = acknowledgedAt.get(key.uuid);
            const sentAt = Date.now();
            const status = (await gateways[0].chat(key.secret)).status;
            if (ackedAt !== undefined && status === 200 && sentAt > ackedAt + BOUND_MS + 500) admittedLate.push(`${key.name} ${sentAt - ackedAt} ms after`);
          }
        }
      })();
      for (const [i, key] of revoked.entries()) {
        const target = survivors[i % survivors.length];
        const response =
          i % 2 === 0
            ? await api(target.baseUrl, 'PUT', `${KEYS}/${key.uuid}/regenerate`, owner)
            : await api(target.baseUrl, 'DELETE', `${KEYS}/${key.uuid}`, owner);
        expect(response.status).toBe(200);
        acknowledgedAt.set(key.uuid, Date.now());
        await new Promise((r) => setTimeout(r, 100));
      }
      const last = Math.max(...(await api(survivors[0].baseUrl, 'GET', `/v1/revocations?after=${startedFrom}&limit=1000`, gatewayToken)).body.revocations.map((r: { position: number }) => r.position));
      for (const gateway of gateways) {
        await eventually(async () => (await gateway.status()).position >= last, 15_000, 'the gateway at the last revocation');
      }
      sampling = false;
      await sampler;
      expect(admittedLate).toEqual([]);

      const moved = await gateways[0].status();
      expect(moved.feedServiceUrl).not.toBe(followed);
      expect(survivors.map((i) => i.baseUrl)).toContain(moved.feedServiceUrl);
      expect(moved.serviceMoves).toBeGreaterThanOrEqual(1);
      // Nothing missed: every revoked secret is refused at both gateways, every kept one still admitted.
      for (const gateway of gateways) {
        for (const key of revoked) expect([key.name, (await gateway.chat(key.secret)).status]).toEqual([key.name, 401]);
        for (const key of kept) expect([key.name, (await gateway.chat(key.secret)).status]).toEqual([key.name, 200]);
      }
    } finally {
      await Promise.all(gateways.map((gateway) => gateway.kill()));
      await upstream.close();
    }
  });
});
