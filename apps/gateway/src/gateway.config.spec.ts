import { loadGatewayConfig } from './gateway.config';

describe('KEY_SERVICE_URL', () => {
  const base = { GATEWAY_TOKEN: 'a-token', UPSTREAM_URL: 'http://127.0.0.1:9000' };

  it('takes one URL as before, and the default when unset', () => {
    expect(loadGatewayConfig({ ...base, KEY_SERVICE_URL: 'http://keys:8080/' }).serviceUrls).toEqual(['http://keys:8080']);
    expect(loadGatewayConfig(base).serviceUrls).toEqual(['http://127.0.0.1:8080']);
  });

  it('takes a comma-separated list of instances, in order, spaces allowed', () => {
    const config = loadGatewayConfig({ ...base, KEY_SERVICE_URL: 'http://keys-a:8080, http://keys-b:8080 ,https://keys-c' });
    expect(config.serviceUrls).toEqual(['http://keys-a:8080', 'http://keys-b:8080', 'https://keys-c']);
  });

  it.each([
    ['http://keys-a:8080,,http://keys-b:8080', 'KEY_SERVICE_URL: has an empty entry'],
    ['http://keys-a:8080,keys-b:8080', 'KEY_SERVICE_URL: "keys-b:8080" must be an http:// or https:// URL'],
    ['http://keys-a:8080,not a url', 'KEY_SERVICE_URL: "not a url" is not a URL'],
    ['http://keys-a:8080,http://user:s3cret@keys b', 'KEY_SERVICE_URL: "http://user:***@keys b" is not a URL'],
    ['http://keys-a:8080,http://user:pw@keys-b:8080', 'KEY_SERVICE_URL: "http://user:***@keys-b:8080" must not carry credentials, a query or a fragment'],
    ['http://keys-a:8080,HTTP://KEYS-A:8080/', 'KEY_SERVICE_URL: "http://keys-a:8080" is listed twice'],
    ['http://keys-a:80,http://keys-a', 'KEY_SERVICE_URL: "http://keys-a" is listed twice'],
    ['http://keys-a:8080,http://keys-a:8080/', 'KEY_SERVICE_URL: "http://keys-a:8080" is listed twice'],
  ])('refuses %s, naming the variable', (value, message) => {
    expect(() => loadGatewayConfig({ ...base, KEY_SERVICE_URL: value })).toThrow(message);
  });

  it('needs every URL on https when a TLS file is set', () => {
    expect(() => loadGatewayConfig({ ...base, KEY_SERVICE_URL: 'https://keys-a,http://keys-b', KEY_SERVICE_TLS_CA_FILE: __filename })).toThrow(
      'KEY_SERVICE_TLS_CA_FILE: needs an https:// KEY_SERVICE_URL, each of them (got "http://keys-b")',
    );
  });
});
