import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GatewayProcess, Upstream, eventually, startGateway, startUpstream } from '../support/gateway-process';
import { ServiceProcess, api, startService } from '../support/service-process';

const KEYS = '/v2/gen-ai/models/api_keys';

/** The broker's SASL_SSL listener, as scripts/kafka.sh secure-env describes it (npm run test:kafka exports them). */
const SECURE = {
  brokers: process.env.KAFKA_SECURE_BROKERS,
  ca: process.env.KAFKA_SECURE_CA_FILE,
  cert: process.env.KAFKA_SECURE_CERT_FILE,
  key: process.env.KAFKA_SECURE_KEY_FILE,
  username: process.env.KAFKA_SECURE_USERNAME,
  passwordFile: process.env.KAFKA_SECURE_PASSWORD_FILE,
};
if (Object.values(SECURE).some((v) => !v)) {
  throw new Error('KAFKA_SECURE_* are not set: run these tests with `npm run test:kafka` (scripts/with-kafka.sh exports them from scripts/kafka.sh secure-env)');
}

describe('Kafka with TLS (a test CA, client certificates) and SASL SCRAM, as managed Kafka runs it', () => {
  const topic = `revocations-secure-${randomUUID()}`;
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'kafka-secure-'));
  let service: ServiceProcess;
  let upstream: Upstream;
  let gateway: GatewayProcess;
  let owner: string;
  let gatewayToken: string;

  /** TLS with the test CA and a client certificate, SASL with the given mechanism; the password from a file. */
  const security = (mechanism: string, passwordFile = SECURE.passwordFile!) => ({
    KAFKA_BROKERS: SECURE.brokers,
    KAFKA_SSL: 'true',
    KAFKA_SSL_CA_FILE: SECURE.ca,
    KAFKA_SSL_CERT_FILE: SECURE.cert,
    KAFKA_SSL_KEY_FILE: SECURE.key,
    KAFKA_SASL_MECHANISM: mechanism,
    KAFKA_SASL_USERNAME: SECURE.username,
    KAFKA_SASL_PASSWORD_FILE: passwordFile,
    KAFKA_REVOCATIONS_TOPIC: topic,
  });
  const gatewayEnv = (extra: Record<string, string | undefined>) => ({
    KEY_SERVICE_URL: service.baseUrl,
    GATEWAY_TOKEN: gatewayToken,
    UPSTREAM_URL: upstream.url,
    GATEWAY_FEED: 'kafka',
    GATEWAY_GROUP_ID: `gateway-${topic}-${randomUUID()}`,
    FEED_MAX_SILENCE_MS: '3000',
    ...extra,
  });
  const wrongPassword = () => {
    const file = path.join(scratch, 'wrong-password');
    fs.writeFileSync(file, 'not-the-password\n');
    return file;
  };
  const startFailure = (start: Promise<unknown>) => start.then(() => 'started', (error: Error) => error.message);

  beforeAll(async () => {
    service = await startService({ env: { ...security('scram-sha-512'), REVOCATION_HEARTBEAT_MS: '200' } });
    upstream = await startUpstream();
    owner = service.token('team-1', 'u1', 'owner');
    gatewayToken = service.token('platform', 'gw', 'gateway');
  });
  afterAll(async () => {
    await gateway?.kill();
    await service?.kill();
    await upstream?.close();
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('the relay (SCRAM-SHA-512) and a gateway\'s Kafka feed (SCRAM-SHA-256) carry revocations over SASL_SSL', async () => {
    // The relay creates the topic on its first connection; the gateway's consumer retries until it exists.
    await new Promise((r) => setTimeout(r, 1500));
    gateway = await startGateway(gatewayEnv(security('scram-sha-256')));
    await eventually(async () => (await gateway.status()).feedFresh, 30_000, 'the gateway\'s Kafka feed to be live');
    expect(service.output()).not.toContain('cannot relay to Kafka');

    const created = await api(service.baseUrl, 'POST', KEYS, owner, { name: 'k' });
    const { uuid, secret_key: secret } = created.body.api_key_info;
    expect((await gateway.chat(secret)).status).toBe(200);
    await api(service.baseUrl, 'PUT', `${KEYS}/${uuid}/regenerate`, owner);
    await eventually(async () => (await gateway.chat(secret)).status === 401, 5000, 'the old secret denied through the SASL_SSL feed');
  });

  it('a wrong password stops the service\'s start-up with one line naming KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD', async () => {
    const message = await startFailure(startService({ env: { ...security('scram-sha-512', wrongPassword()), KAFKA_REVOCATIONS_TOPIC: `${topic}-x` } }));
    expect(message).toMatch(/^service exited with 1: /);
    expect(message).toContain('Start-up failed: KAFKA_SASL_PASSWORD: the Kafka broker refused the SCRAM-SHA-512 credentials of KAFKA_SASL_USERNAME "model-keys": check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD');
    expect(message).not.toContain('not-the-password');
  });

  it('a wrong user or password stops the gateway\'s start-up the same way', async () => {
    const badPassword = await startFailure(startGateway(gatewayEnv(security('scram-sha-256', wrongPassword()))));
    expect(badPassword).toContain('Invalid configuration: KAFKA_SASL_PASSWORD: the Kafka broker refused the SCRAM-SHA-256 credentials of KAFKA_SASL_USERNAME "model-keys"');
    const badUser = await startFailure(startGateway(gatewayEnv({ ...security('scram-sha-512'), KAFKA_SASL_USERNAME: 'nobody' })));
    expect(badUser).toContain('Invalid configuration: KAFKA_SASL_PASSWORD: the Kafka broker refused the SCRAM-SHA-512 credentials of KAFKA_SASL_USERNAME "nobody"');
  });

  it('a bad setting is refused before any connection, naming the variable', async () => {
    const message = await startFailure(startGateway(gatewayEnv({ ...security('scram-sha-512'), KAFKA_SSL_KEY_FILE: '' })));
    expect(message).toContain('Invalid configuration: KAFKA_SSL_KEY_FILE: is required with KAFKA_SSL_CERT_FILE');
  });
});
