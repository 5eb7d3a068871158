import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { GatewayProcess, Upstream, eventually, startGateway, startUpstream } from '../support/gateway-process';
import { ROOT, ServiceProcess, api, startService } from '../support/service-process';
import { TopicWatcher } from '../support/topic-watcher';

const KEYS = '/v2/gen-ai/models/api_keys';
const BROKERS = process.env.KAFKA_BROKERS;
const KAFKA_SCRIPT = path.join(ROOT, 'scripts/kafka.sh');

if (!BROKERS) {
  throw new Error('KAFKA_BROKERS is not set: run these tests with `npm run test:kafka`, which starts a broker (scripts/kafka.sh)');
}

function kafkaScript(command: 'start' | 'stop'): void {
  const result = spawnSync('bash', [KAFKA_SCRIPT, command], { encoding: 'utf8', env: process.env });
  if (result.status !== 0) throw new Error(`scripts/kafka.sh ${command} failed: ${result.stderr}`);
}

describe('the revocation feed over a real Kafka broker', () => {
  const topic = `revocations-test-${randomUUID()}`;
  let dataDir: string;
  let service: ServiceProcess;
  let upstream: Upstream;
  let gateway: GatewayProcess;
  let watcher: TopicWatcher;
  let owner: string;
  let gatewayToken: string;
  const serviceEnv = { KAFKA_BROKERS: BROKERS, KAFKA_REVOCATIONS_TOPIC: topic, REVOCATION_HEARTBEAT_MS: '200' };
  const gatewayEnv = () => ({
    KEY_SERVICE_URL: service.baseUrl,
    GATEWAY_TOKEN: gatewayToken,
    UPSTREAM_URL: upstream.url,
    GATEWAY_FEED: 'kafka',
    KAFKA_BROKERS: BROKERS,
    KAFKA_REVOCATIONS_TOPIC: topic,
    GATEWAY_GROUP_ID: `gateway-${topic}`,
    FEED_MAX_SILENCE_MS: '3000',
  });

  beforeAll(async () => {
    service = await startService({ env: serviceEnv });
    dataDir = service.dataDir;
    upstream = await startUpstream();
    owner = service.token('team-1', 'u1', 'owner');
    gatewayToken = service.token('platform', 'gw', 'gateway');
    // The relay creates the topic on its first connection; the gateway's consumer needs it to exist.
    await eventually(async () => (await api(service.baseUrl, 'GET', '/healthz', null)).status === 200, 5000);
    await new Promise((r) => setTimeout(r, 1000));
    gateway = await startGateway(gatewayEnv());
    await eventually(async () => (await gateway.status()).feedFresh, 30_000, 'the Kafka gateway feed to be live');
    watcher = new TopicWatcher(BROKERS!, topic);
    await watcher.start();
  });
  afterAll(async () => {
    await watcher?.stop();
    await gateway?.kill();
    await service?.kill();
    await upstream?.close();
  });

  const create = async () => {
    const res = await api(service.baseUrl, 'POST', KEYS, owner, { name: 'k' });
    expect(res.status).toBe(200);
    return res.body.api_key_info as { uuid: string; secret_key: string };
  };
  const allRevocationPositions = async (): Promise<number[]> => {
    const positions: number[] = [];
    let after = 0;
    for (;;) {
      const page = await api(service.baseUrl, 'GET', `/v1/revocations?after=${after}&limit=1000`, gatewayToken);
      positions.push(...page.body.revocations.map((r: { position: number }) => r.position));
      if (page.body.revocations.length < 1000) return positions;
      after = page.body.next_after;
    }
  };
  const everyRevocationInTopic = async (timeoutMs: number) => {
    const expected = await allRevocationPositions();
    await eventually(async () => expected.every((p) => watcher.positions.has(p)), timeoutMs, `all ${expected.length} revocations in the topic`);
    return expected.length;
  };

  it('create -> accepted; regenerate -> old denied, new accepted; delete -> denied (via Kafka)', async () => {
    const key = await create();
    expect((await gateway.chat(key.secret_key)).status).toBe(200);
    expect((await gateway.chat(key.secret_key)).status).toBe(200);
    const regenerated = await api(service.baseUrl, 'PUT', `${KEYS}/${key.uuid}/regenerate`, owner);
    await eventually(async () => (await gateway.chat(key.secret_key)).status === 401, 2000, 'the old secret denied');
    const fresh = regenerated.body.api_key_info.secret_key;
    expect((await gateway.chat(fresh)).status).toBe(200);
    await api(service.baseUrl, 'DELETE', `${KEYS}/${key.uuid}`, owner);
    await eventually(async () => (await gateway.chat(fresh)).status === 401, 2000, 'the deleted key denied');
  });

  it('the relay killed mid-stream and restarted: every revocation arrives', async () => {
    const keys = await Promise.all(Array.from({ length: 40 }, () => create()));
    let stop = false;
    const burst = (async () => {
      for (let round = 0; !stop && round < 20; round++) {
        await Promise.all(keys.map((k) => api(service.baseUrl, 'PUT', `${KEYS}/${k.uuid}/regenerate`, owner).catch(() => undefined)));
      }
    })();
    await eventually(async () => watcher.positions.size > 60, 10_000, 'the relay to be producing');
    await service.kill('SIGKILL');
    stop = true;
    await burst;
    service = await startService({ dataDir, env: serviceEnv });
    // The restarted service listens on new ports: the gateway follows it there, from its saved position.
    await gateway.kill();
    gateway = await startGateway(gatewayEnv(), gateway.stateDir);
    const count = await everyRevocationInTopic(20_000);
    expect(count).toBeGreaterThan(60);
  });

  it('the broker stopped for 20 s and restarted: everything is delivered afterwards', async () => {
    const key = await create();
    expect((await gateway.chat(key.secret_key)).status).toBe(200);
    kafkaScript('stop');
    try {
      const keys = await Promise.all(Array.from({ length: 10 }, () => create()));
      for (const k of keys) expect((await api(service.baseUrl, 'PUT', `${KEYS}/${k.uuid}/regenerate`, owner)).status).toBe(200);
      await api(service.baseUrl, 'PUT', `${KEYS}/${key.uuid}/regenerate`, owner);
      // The gateway fails closed once the feed is silent: the old secret is refused though its answer was cached.
      await eventually(async () => (await gateway.chat(key.secret_key)).status === 401, 10_000, 'the old secret refused during the outage');
      await new Promise((r) => setTimeout(r, 20_000));
    } finally {
      kafkaScript('start');
    }
    await everyRevocationInTopic(60_000);
    await eventually(async () => {
      const status = await gateway.status();
      return status.feedFresh && status.lag === 0;
    }, 60_000, 'the gateway caught up after the outage');
  });

  it('the gateway restarted resumes from its position', async () => {
    // Settled, not only at lag 0 once: after the outage above, the backlog may still be arriving in
    // batches, and the head the gateway knows of moves with them. Nothing new is written meanwhile,
    // so a position that holds for a second (five heartbeats) is the end of the feed.
    let last = -1;
    await eventually(
      async () => {
        const status = await gateway.status();
        const settled = status.lag === 0 && status.position === last;
        last = status.position;
        if (!settled) await new Promise((r) => setTimeout(r, 1000));
        return settled;
      },
      60_000,
      'the gateway settled at the end of the feed',
    );
    const saved = (await gateway.status()).position;
    await gateway.kill();
    const key = await create();
    await api(service.baseUrl, 'PUT', `${KEYS}/${key.uuid}/regenerate`, owner);
    gateway = await startGateway(gatewayEnv(), gateway.stateDir);
    const status = await gateway.status();
    expect(status.startedFrom).toBe(saved);
    await eventually(async () => {
      const s = await gateway.status();
      return s.feedFresh && s.position > saved && s.lag === 0;
    }, 30_000, 'the restarted gateway catching up');
    expect((await gateway.chat(key.secret_key)).status).toBe(401);
  });

  it('SIGTERM in the middle of a burst: the relay finishes its in-flight batch, so nothing reached the topic past its stored checkpoint, and the process exits 0', async () => {
    const keys = await Promise.all(Array.from({ length: 40 }, () => create()));
    const before = watcher.positions.size;
    let stop = false;
    const burst = (async () => {
      while (!stop) {
        await Promise.all(keys.map((k) => api(service.baseUrl, 'PUT', `${KEYS}/${k.uuid}/regenerate`, owner).catch(() => undefined)));
      }
    })();
    await eventually(async () => watcher.positions.size > before + 60, 10_000, 'the relay to be producing');
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      service.child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    service.child.kill('SIGTERM');
    expect(await exited).toEqual({ code: 0, signal: null });
    stop = true;
    await burst;
    const db = new Database(path.join(dataDir, 'read-models.db'), { readonly: true });
    const checkpoint = (db.prepare('SELECT position FROM relay_checkpoints WHERE name = ?').get(`kafka:${topic}`) as { position: number }).position;
    db.close();
    // Let the watcher read what the broker holds, then compare: a batch cut short would be in the topic
    // past the checkpoint (sent again, as duplicates, after a restart).
    await new Promise((r) => setTimeout(r, 2000));
    expect(checkpoint).toBeGreaterThan(0);
    expect(Math.max(...watcher.positions)).toBeLessThanOrEqual(checkpoint);
  });
});
