import * as path from 'node:path';
import { Pki, createPki } from '../../../../test/support/pki';
import { ConfigError, loadConfig } from './app.config';

const load = (env: NodeJS.ProcessEnv) => loadConfig({ NODE_ENV: 'test', DATA_DIR: '/tmp/unused', ...env });
/** The one line start-up prints: the variable first. */
const failure = (env: NodeJS.ProcessEnv) => {
  try {
    load(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('the configuration was accepted');
};

describe('TLS settings: a file that cannot serve stops start-up, naming its variable', () => {
  let pki: Pki;
  let server: { cert: string; key: string };
  let other: { cert: string; key: string };
  beforeAll(() => {
    pki = createPki();
    server = pki.server('server');
    other = pki.server('other');
  });
  afterAll(() => pki.remove());

  it('without TLS_CERT_FILE and TLS_KEY_FILE the service stays plain; with them, a checked pair (a chain too) and the client CA', () => {
    expect(load({}).tls).toBeNull();
    expect(load({ TLS_CERT_FILE: server.cert, TLS_KEY_FILE: server.key }).tls).toEqual({
      certFile: server.cert, keyFile: server.key, clientCaFile: null, clientAuth: 'none', requireClientCertFor: [],
    });
    const chained = pki.server('chained', { chain: true });
    expect(load({ TLS_CERT_FILE: chained.cert, TLS_KEY_FILE: chained.key, TLS_CLIENT_CA_FILE: pki.caCert, TLS_REQUIRE_CLIENT_CERT_FOR: 'gateway, service' }).tls).toMatchObject({
      clientCaFile: pki.caCert, clientAuth: 'request', requireClientCertFor: ['gateway', 'service'],
    });
    expect(load({ TLS_CERT_FILE: server.cert, TLS_KEY_FILE: server.key, TLS_CLIENT_CA_FILE: pki.caCert, TLS_CLIENT_AUTH: 'require' }).tls?.clientAuth).toBe('require');
  });

  it('unreadable files, a key of another certificate, a file that is not PEM, half a pair: one message naming the variable', () => {
    const missing = path.join(pki.dir, 'missing.pem');
    expect(failure({ TLS_CERT_FILE: missing, TLS_KEY_FILE: server.key })).toBe(`TLS_CERT_FILE: cannot read ${missing} (ENOENT)`);
    expect(failure({ TLS_CERT_FILE: server.cert, TLS_KEY_FILE: missing })).toBe(`TLS_KEY_FILE: cannot read ${missing} (ENOENT)`);
    expect(failure({ TLS_CERT_FILE: server.cert, TLS_KEY_FILE: other.key })).toBe(`TLS_KEY_FILE: ${other.key} is not the private key of the certificate in ${server.cert}`);
    expect(failure({ TLS_CERT_FILE: server.key, TLS_KEY_FILE: server.key })).toBe(`TLS_CERT_FILE: ${server.key} is not a PEM certificate`);
    expect(failure({ TLS_CERT_FILE: server.cert, TLS_KEY_FILE: server.cert })).toBe(`TLS_KEY_FILE: ${server.cert} is not an unencrypted PEM private key`);
    expect(failure({ TLS_CERT_FILE: server.cert, TLS_KEY_FILE: server.key, TLS_CLIENT_CA_FILE: server.key })).toMatch(/^TLS_CLIENT_CA_FILE: .* is not a PEM certificate bundle$/);
    expect(failure({ TLS_CERT_FILE: server.cert })).toBe('TLS_KEY_FILE: is required when TLS_CERT_FILE is set');
    expect(failure({ TLS_KEY_FILE: server.key })).toBe('TLS_CERT_FILE: is required when TLS_KEY_FILE is set');
  });

  it('mutual TLS settings need their prerequisites and known values', () => {
    const pair = { TLS_CERT_FILE: server.cert, TLS_KEY_FILE: server.key };
    expect(failure({ TLS_CLIENT_CA_FILE: pki.caCert })).toBe('TLS_CLIENT_CA_FILE: needs TLS_CERT_FILE and TLS_KEY_FILE (mutual TLS is TLS first)');
    expect(failure({ ...pair, TLS_REQUIRE_CLIENT_CERT_FOR: 'gateway' })).toBe('TLS_REQUIRE_CLIENT_CERT_FOR: needs TLS_CLIENT_CA_FILE (the CA client certificates are verified against)');
    expect(failure({ ...pair, TLS_CLIENT_CA_FILE: pki.caCert, TLS_REQUIRE_CLIENT_CERT_FOR: 'gateway,owner' })).toBe(
      'TLS_REQUIRE_CLIENT_CERT_FOR: must be a comma-separated list of gateway, service (got "owner")',
    );
    expect(failure({ ...pair, TLS_CLIENT_CA_FILE: pki.caCert, TLS_CLIENT_AUTH: 'optional' })).toBe('TLS_CLIENT_AUTH: must be request or require (got "optional")');
  });
});

describe('TRUST_PROXY', () => {
  it('unset: no proxy is trusted; a hop count; a list of addresses, CIDR ranges and proxy-addr names', () => {
    expect(load({}).trustProxy).toBe(false);
    expect(load({ TRUST_PROXY: '1' }).trustProxy).toBe(1);
    expect(load({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1,fd00::/8,loopback' }).trustProxy).toEqual(['10.0.0.0/8', '127.0.0.1', 'fd00::/8', 'loopback']);
  });

  it.each([['0'], ['33'], ['true'], ['10.0.0.0/33'], ['10.0.0.1/8/1'], ['proxy.example.com'], ['10.0.0.0/8,,']])('"%s" stops start-up, naming TRUST_PROXY', (value) => {
    expect(failure({ TRUST_PROXY: value })).toMatch(/^TRUST_PROXY: must be a hop count \(1-32\) or a comma-separated list of addresses and CIDR ranges/);
  });
});
