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
    ['http://keys-a:8080,http://user:s3cret@keys b', 'KEY_SERVICE_URL: "http://***@keys b" is not a URL'],
    ['http://keys-a:8080,http://user:pw@keys-b:8080', 'KEY_SERVICE_URL: "http://***:***@keys-b:8080" must not carry credentials, a query or a fragment'],
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

describe('UPSTREAM_URL', () => {
  const base = { GATEWAY_TOKEN: 'a-token' };
  const upstream = (value: string) => {
    const config = loadGatewayConfig({ ...base, UPSTREAM_URL: value });
    return { url: config.upstreamUrl, basePath: config.upstreamBasePath };
  };

  it('takes an origin, with no base path', () => {
    expect(upstream('http://127.0.0.1:9000')).toEqual({ url: 'http://127.0.0.1:9000', basePath: '' });
    expect(upstream('HTTPS://VLLM.internal:443/')).toEqual({ url: 'https://vllm.internal', basePath: '' });
  });

  it('takes a base path, prefixed to each route forwarded (a trailing slash dropped)', () => {
    expect(upstream('http://127.0.0.1:9000/openai')).toEqual({ url: 'http://127.0.0.1:9000/openai', basePath: '/openai' });
    expect(upstream('https://gw.example/serving/llama/')).toEqual({ url: 'https://gw.example/serving/llama', basePath: '/serving/llama' });
  });

  it.each([
    ['http://user:pass@127.0.0.1:1', 'UPSTREAM_URL: "http://***:***@127.0.0.1:1" must not carry credentials, a query or a fragment'],
    ['http://user@127.0.0.1:1', 'UPSTREAM_URL: "http://***@127.0.0.1:1" must not carry credentials, a query or a fragment'],
    ['http://127.0.0.1:9000/openai?api-version=1', 'UPSTREAM_URL: "http://127.0.0.1:9000/openai?***" must not carry credentials, a query or a fragment'],
    ['http://127.0.0.1:9000/#top', 'UPSTREAM_URL: "http://127.0.0.1:9000/#***" must not carry credentials, a query or a fragment'],
    ['http://user:pass@up stream', 'UPSTREAM_URL: "http://***@up stream" is not a URL (an http:// or https:// URL of the upstream)'],
    ['ftp://user:pass@upstream', 'UPSTREAM_URL: "ftp://***:***@upstream" must be an http:// or https:// URL'],
    ['vllm:8000', 'UPSTREAM_URL: "vllm:8000" must be an http:// or https:// URL'],
    ['127.0.0.1:9000', 'UPSTREAM_URL: "127.0.0.1:9000" is not a URL (an http:// or https:// URL of the upstream)'],
  ])('refuses %s, naming the variable and never the password', (value, message) => {
    let thrown: Error | undefined;
    try {
      loadGatewayConfig({ ...base, UPSTREAM_URL: value });
    } catch (error) {
      thrown = error as Error;
    }
    expect(thrown?.message).toBe(message);
    expect(thrown?.message).not.toContain('pass@');
  });

  it('is required', () => {
    expect(() => loadGatewayConfig(base)).toThrow('UPSTREAM_URL: is required');
  });
});

describe('GATEWAY_ID', () => {
  const base = { GATEWAY_TOKEN: 'a-token', UPSTREAM_URL: 'http://127.0.0.1:9000' };

  it('takes 1 to 100 of A-Z a-z 0-9 . _ : -; unset: none (host and pid)', () => {
    expect(loadGatewayConfig({ ...base, GATEWAY_ID: 'edge-eu_1.a:b' }).gatewayId).toBe('edge-eu_1.a:b');
    expect(loadGatewayConfig({ ...base, GATEWAY_ID: 'g'.repeat(100) }).gatewayId).toBe('g'.repeat(100));
    expect(loadGatewayConfig(base).gatewayId).toBeNull();
  });

  it('refuses 101 characters, naming the variable and the bound', () => {
    expect(() => loadGatewayConfig({ ...base, GATEWAY_ID: 'g'.repeat(101) })).toThrow(
      'GATEWAY_ID: must be 1 to 100 characters, each one of A-Z a-z 0-9 . _ : - (a random part is added per process); got 101 characters',
    );
  });

  it('refuses another character, naming the variable and the bound', () => {
    expect(() => loadGatewayConfig({ ...base, GATEWAY_ID: 'edge eu' })).toThrow('GATEWAY_ID: must be 1 to 100 characters, each one of A-Z a-z 0-9 . _ : -');
  });
});
