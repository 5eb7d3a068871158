import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, DEVELOPMENT_JWT_SECRET, loadConfig } from './app.config';
import { kafkaSecurityOf } from './kafka-security.config';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'config-secrets-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const file = (name: string, content: string) => {
  const target = path.join(dir, name);
  fs.writeFileSync(target, content);
  return target;
};
const base = { DATA_DIR: dir };
const refusal = (env: NodeJS.ProcessEnv): string => {
  try {
    loadConfig({ ...base, ...env });
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error('the configuration was accepted');
};

describe('secrets from files (*_FILE)', () => {
  const SECRET = 's'.repeat(40);

  it('reads AUTH_JWT_SECRET, AUTH_JWT_PREVIOUS_SECRETS, KEY_ENCRYPTION_KEY and DATABASE_URL from files, dropping the trailing newline', () => {
    const kek = Buffer.alloc(32, 3).toString('base64');
    const config = loadConfig({
      ...base,
      AUTH_JWT_SECRET_FILE: file('jwt', `${SECRET}\n`),
      AUTH_JWT_PREVIOUS_SECRETS_FILE: file('previous', `${'p'.repeat(32)},${'q'.repeat(33)}\r\n`),
      KEY_ENCRYPTION_KEY_FILE: file('kek', `${kek}\n`),
      EVENT_STORE: 'postgres',
      DATABASE_URL_FILE: file('db', 'postgres://keys:pa55@db:5432/keys\n'),
    });
    expect(config.jwtSecret).toBe(SECRET);
    expect(config.jwtSecretIsDefault).toBe(false);
    expect(config.jwtPreviousSecrets).toEqual(['p'.repeat(32), 'q'.repeat(33)]);
    expect(config.keyEncryptionKey).toBe(kek);
    expect(config.eventStore.databaseUrl).toBe('postgres://keys:pa55@db:5432/keys');
    expect(loadConfig({ ...base, EVENT_STORE: 'kurrentdb', KURRENTDB_CONNECTION_STRING_FILE: file('kdb', 'kurrentdb://admin:pw@kdb:2113?tls=true') }).eventStore.kurrentdbConnectionString).toBe(
      'kurrentdb://admin:pw@kdb:2113?tls=true',
    );
  });

  it('refuses a value and a file at once, a missing file and an empty one, naming the variable and never the content', () => {
    expect(refusal({ AUTH_JWT_SECRET: SECRET, AUTH_JWT_SECRET_FILE: file('jwt2', SECRET) })).toBe('AUTH_JWT_SECRET: set AUTH_JWT_SECRET or AUTH_JWT_SECRET_FILE, not both');
    expect(refusal({ AUTH_JWT_SECRET_FILE: path.join(dir, 'nope') })).toBe(`AUTH_JWT_SECRET_FILE: cannot read "${path.join(dir, 'nope')}" (ENOENT)`);
    expect(refusal({ DATABASE_URL_FILE: file('empty', '\n'), EVENT_STORE: 'postgres' })).toBe(`DATABASE_URL_FILE: "${path.join(dir, 'empty')}" is empty`);
    const short = refusal({ AUTH_JWT_SECRET_FILE: file('short', 'too-short-secret') });
    expect(short).toBe('AUTH_JWT_SECRET: must be at least 32 characters');
    expect(short).not.toContain('too-short-secret');
    expect(refusal({ AUTH_JWT_PREVIOUS_SECRETS: `${SECRET},short` })).toBe('AUTH_JWT_PREVIOUS_SECRETS: each secret must be at least 32 characters (number 2 is not)');
  });
});

describe('AUTH_JWKS_URL and the claim mapping', () => {
  const provider = { AUTH_JWKS_URL: 'https://idp.example.com/realms/acme/protocol/openid-connect/certs', AUTH_ISSUER: 'https://idp.example.com/realms/acme', AUTH_AUDIENCE: 'model-keys' };

  it('defaults: team_id, sub and role claims, jose\'s 30 s cooldown and 10 min cache; none at all without AUTH_JWKS_URL', () => {
    expect(loadConfig(base).identityProvider).toBeNull();
    const config = loadConfig({ ...base, ...provider, AUTH_AUDIENCE: 'model-keys, account' }).identityProvider!;
    expect(config).toMatchObject({ teamClaim: 'team_id', userClaim: 'sub', roleClaim: 'role', jwksCooldownMs: 30_000, jwksCacheMaxAgeMs: 600_000, jwksTimeoutMs: 5000, audience: ['model-keys', 'account'] });
    expect(config.roleMap.size).toBe(0);
  });

  it('parses AUTH_ROLE_MAP, provider names with colons included', () => {
    const { roleMap } = loadConfig({ ...base, ...provider, AUTH_ROLE_MAP: 'platform-admins:owner, devs:member,urn:acme:group:audit:auditor' }).identityProvider!;
    expect([...roleMap]).toEqual([
      ['platform-admins', 'owner'],
      ['devs', 'member'],
      ['urn:acme:group:audit', 'auditor'],
    ]);
  });

  it.each([
    [{ AUTH_JWKS_URL: 'not a url' }, 'AUTH_JWKS_URL: must be an https URL (got "not a url")'],
    [{ AUTH_JWKS_URL: 'http://idp/certs', NODE_ENV: 'production', AUTH_JWT_SECRET: 'x'.repeat(32), KEY_ENCRYPTION_KEY: Buffer.alloc(32).toString('base64') }, 'AUTH_JWKS_URL: must be an https URL when NODE_ENV=production (got "http://idp/certs")'],
    [{ AUTH_ISSUER: '' }, 'AUTH_ISSUER: is required with AUTH_JWKS_URL: the exact iss of the provider\'s tokens'],
    [{ AUTH_AUDIENCE: ' , ' }, 'AUTH_AUDIENCE: is required with AUTH_JWKS_URL: the aud the provider puts in tokens for this service'],
    [{ AUTH_ROLE_MAP: 'admins:superuser' }, 'AUTH_ROLE_MAP: entries must be provider-name:role with role one of owner, member, auditor, gateway, service (got "admins:superuser")'],
    [{ AUTH_ROLE_MAP: 'admins' }, 'AUTH_ROLE_MAP: entries must be provider-name:role with role one of owner, member, auditor, gateway, service (got "admins")'],
    [{ AUTH_ROLE_MAP: 'a:owner,a:member' }, 'AUTH_ROLE_MAP: maps "a" twice'],
    [{ AUTH_ROLE_CLAIM: 'realm access.roles' }, 'AUTH_ROLE_CLAIM: must be a claim name or a dotted path such as realm_access.roles, without spaces (got "realm access.roles")'],
    [{ AUTH_JWKS_COOLDOWN_MS: '-1' }, 'AUTH_JWKS_COOLDOWN_MS: must be an integer from 0 to 3600000 (got "-1")'],
  ])('refuses %j: %s', (env, message) => {
    expect(refusal({ ...provider, ...env })).toBe(message);
  });

  it('refuses a mapping variable set without AUTH_JWKS_URL, which would otherwise be ignored', () => {
    expect(refusal({ AUTH_ROLE_MAP: 'devs:member' })).toBe('AUTH_ROLE_MAP: is set but AUTH_JWKS_URL is not: provider tokens need the provider\'s key set');
  });
});

describe("the console's sign-in through the provider (CONSOLE_OIDC_CLIENT_ID)", () => {
  const provider = { AUTH_JWKS_URL: 'https://idp.example.com/jwks', AUTH_ISSUER: 'https://idp.example.com/realms/acme', AUTH_AUDIENCE: 'model-keys' };
  const production = { NODE_ENV: 'production', AUTH_JWT_SECRET: 'x'.repeat(32), KEY_ENCRYPTION_KEY: Buffer.alloc(32).toString('base64') };

  it('is off without a client id; with one, the issuer is AUTH_ISSUER and the scopes default to openid profile', () => {
    expect(loadConfig({ ...base, ...provider }).consoleOidc).toBeNull();
    expect(loadConfig({ ...base, ...provider, CONSOLE_OIDC_CLIENT_ID: 'model-keys-console' }).consoleOidc).toEqual({
      issuer: 'https://idp.example.com/realms/acme',
      clientId: 'model-keys-console',
      scopes: ['openid', 'profile'],
    });
    expect(loadConfig({ ...base, ...provider, CONSOLE_OIDC_CLIENT_ID: 'c', CONSOLE_OIDC_SCOPES: ' openid  email openid groups ' }).consoleOidc?.scopes).toEqual(['openid', 'email', 'groups']);
  });

  it('takes an http issuer outside production only', () => {
    const local = { AUTH_JWKS_URL: 'http://127.0.0.1:9000/jwks', AUTH_ISSUER: 'http://127.0.0.1:9000', AUTH_AUDIENCE: 'a', CONSOLE_OIDC_CLIENT_ID: 'c' };
    expect(loadConfig({ ...base, ...local, NODE_ENV: 'test' }).consoleOidc?.issuer).toBe('http://127.0.0.1:9000');
    expect(refusal({ ...provider, ...production, AUTH_ISSUER: 'http://idp.example.com', CONSOLE_OIDC_CLIENT_ID: 'c' })).toBe(
      'AUTH_ISSUER: must be an https URL without query or fragment when CONSOLE_OIDC_CLIENT_ID is set: the console discovers the provider from it (got "http://idp.example.com")',
    );
  });

  it.each([
    [{ CONSOLE_OIDC_CLIENT_ID: 'c', AUTH_JWKS_URL: '', AUTH_ISSUER: '', AUTH_AUDIENCE: '' }, "CONSOLE_OIDC_CLIENT_ID: is set but AUTH_JWKS_URL is not: the service could not check the provider's tokens the console signs in with"],
    [{ CONSOLE_OIDC_SCOPES: 'openid' }, 'CONSOLE_OIDC_SCOPES: is set but CONSOLE_OIDC_CLIENT_ID is not'],
    [{ CONSOLE_OIDC_CLIENT_ID: 'the console' }, 'CONSOLE_OIDC_CLIENT_ID: must be 1 to 256 printable characters without spaces (got "the console")'],
    [{ CONSOLE_OIDC_CLIENT_ID: 'c', CONSOLE_OIDC_SCOPES: 'profile email' }, 'CONSOLE_OIDC_SCOPES: must include openid (got "profile email")'],
    [{ CONSOLE_OIDC_CLIENT_ID: 'c', CONSOLE_OIDC_SCOPES: 'openid "x"' }, 'CONSOLE_OIDC_SCOPES: must be scope names separated by spaces (got ""x"")'],
    [{ CONSOLE_OIDC_CLIENT_ID: 'c', AUTH_ISSUER: 'acme' }, 'AUTH_ISSUER: must be an http or https URL without query or fragment when CONSOLE_OIDC_CLIENT_ID is set: the console discovers the provider from it (got "acme")'],
  ])('refuses %j: %s', (env, message) => {
    expect(refusal({ ...provider, ...env })).toBe(message);
  });
});

describe('Kafka TLS and SASL settings', () => {
  const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  const security = (env: NodeJS.ProcessEnv) => {
    try {
      return kafkaSecurityOf(env);
    } catch (error) {
      return (error as ConfigError).message;
    }
  };

  it('maps to kafkajs\' ssl and sasl options: PEM contents, not paths; the password from a file', () => {
    expect(security({})).toEqual({});
    expect(security({ KAFKA_SSL: 'true' })).toEqual({ ssl: true });
    const ca = file('ca.pem', PEM);
    expect(
      security({ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: ca, KAFKA_SSL_CERT_FILE: file('c.pem', PEM), KAFKA_SSL_KEY_FILE: file('k.pem', PEM), KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', KAFKA_SASL_USERNAME: 'relay', KAFKA_SASL_PASSWORD_FILE: file('pw', 'hunter2\n') }),
    ).toEqual({ ssl: { ca: PEM.trimEnd(), cert: PEM.trimEnd(), key: PEM.trimEnd() }, sasl: { mechanism: 'scram-sha-512', username: 'relay', password: 'hunter2' } });
    // Read only with KAFKA_BROKERS: the relay is off without it.
    expect(loadConfig({ ...base, KAFKA_BROKERS: 'b:9093', KAFKA_SSL: 'true', KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' }).kafka).toMatchObject({
      brokers: ['b:9093'],
      ssl: true,
      sasl: { mechanism: 'plain', username: 'u', password: 'p' },
    });
  });

  it.each([
    [{ KAFKA_SSL: 'yes' }, 'KAFKA_SSL: must be true or false (got "yes")'],
    [{ KAFKA_SSL_CA_FILE: '/ca.pem' }, 'KAFKA_SSL_CA_FILE: is set but KAFKA_SSL is not true: set KAFKA_SSL=true to connect with TLS'],
    [{ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: '/no/such/ca.pem' }, 'KAFKA_SSL_CA_FILE: cannot read "/no/such/ca.pem" (ENOENT)'],
    [{ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: file('notpem', 'hello') }, `KAFKA_SSL_CA_FILE: "${path.join(dir, 'notpem')}" holds no PEM block (-----BEGIN ...)`],
    [{ KAFKA_SSL: 'true', KAFKA_SSL_CERT_FILE: file('only-cert.pem', PEM) }, 'KAFKA_SSL_KEY_FILE: is required with KAFKA_SSL_CERT_FILE (the client certificate\'s private key)'],
    [{ KAFKA_SASL_MECHANISM: 'gssapi' }, 'KAFKA_SASL_MECHANISM: must be one of plain, scram-sha-256, scram-sha-512 (got "gssapi")'],
    [{ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_PASSWORD: 'p' }, 'KAFKA_SASL_USERNAME: is required with KAFKA_SASL_MECHANISM=plain (or KAFKA_SASL_USERNAME_FILE)'],
    [{ KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_USERNAME: 'u' }, 'KAFKA_SASL_PASSWORD: is required with KAFKA_SASL_MECHANISM=scram-sha-256 (or KAFKA_SASL_PASSWORD_FILE)'],
    [{ KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' }, 'KAFKA_SASL_MECHANISM: is required with KAFKA_SASL_USERNAME (one of plain, scram-sha-256, scram-sha-512)'],
  ])('refuses %j: %s', (env, message) => {
    expect(security(env)).toBe(message);
  });
});

describe('the development secret in production', () => {
  const production = { NODE_ENV: 'production', DATA_DIR: '/tmp/unused', KEY_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64') };
  it('is refused as AUTH_JWT_SECRET and in AUTH_JWT_PREVIOUS_SECRETS, naming the variable', () => {
    expect(() => loadConfig({ ...production, AUTH_JWT_SECRET: DEVELOPMENT_JWT_SECRET })).toThrow(/^AUTH_JWT_SECRET: is the published development secret/);
    expect(() => loadConfig({ ...production, AUTH_JWT_SECRET: 'x'.repeat(40), AUTH_JWT_PREVIOUS_SECRETS: `${'y'.repeat(40)},${DEVELOPMENT_JWT_SECRET}` })).toThrow(
      /^AUTH_JWT_PREVIOUS_SECRETS: holds the published development secret/,
    );
    expect(loadConfig({ ...production, AUTH_JWT_SECRET: 'x'.repeat(40) }).jwtSecret).toBe('x'.repeat(40));
  });
});
