import { ConfigError, loadConfig } from '../config/app.config';
import { connectionTimeouts, defaultMaxConnections } from './connection-limits';

describe('HTTP limits for slow and stalled clients', () => {
  it('bounds the request at 30 s and its headers at 10 s unless set, and leaves the connection cap to the open-file limit', () => {
    expect(loadConfig({}).http).toEqual({ requestTimeoutMs: 30_000, headersTimeoutMs: 10_000, keepAliveTimeoutMs: 72_000, maxConnections: null });
  });

  it('reads the variables, in ms', () => {
    const http = loadConfig({ HTTP_REQUEST_TIMEOUT_MS: '5000', HTTP_HEADERS_TIMEOUT_MS: '1000', HTTP_KEEP_ALIVE_TIMEOUT_MS: '4000', HTTP_MAX_CONNECTIONS: '500' }).http;
    expect(http).toEqual({ requestTimeoutMs: 5000, headersTimeoutMs: 1000, keepAliveTimeoutMs: 4000, maxConnections: 500 });
    // A short request timeout shortens the default headers timeout with it.
    expect(loadConfig({ HTTP_REQUEST_TIMEOUT_MS: '2000' }).http.headersTimeoutMs).toBe(2000);
  });

  it.each([
    [{ HTTP_REQUEST_TIMEOUT_MS: '0' }, 'HTTP_REQUEST_TIMEOUT_MS'],
    [{ HTTP_REQUEST_TIMEOUT_MS: '30s' }, 'HTTP_REQUEST_TIMEOUT_MS'],
    [{ HTTP_HEADERS_TIMEOUT_MS: '40000' }, 'HTTP_HEADERS_TIMEOUT_MS'],
    [{ HTTP_MAX_CONNECTIONS: '0' }, 'HTTP_MAX_CONNECTIONS'],
    [{ HTTP_KEEP_ALIVE_TIMEOUT_MS: '-1' }, 'HTTP_KEEP_ALIVE_TIMEOUT_MS'],
  ])('refuses %j, naming %s', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`^${variable}: `));
  });

  it('has Node check the deadlines often enough to keep them within a second', () => {
    const options = connectionTimeouts(loadConfig({}).http);
    expect(options).toMatchObject({ requestTimeout: 30_000, keepAliveTimeout: 72_000, http: { headersTimeout: 10_000, requestTimeout: 30_000 } });
    expect(options.http.connectionsCheckingInterval).toBeLessThanOrEqual(1000);
  });

  it('caps connections below the open-file limit, keeping descriptors for the stores', () => {
    expect(defaultMaxConnections(1024)).toBe(768);
    expect(defaultMaxConnections(1_048_576)).toBe(10_000);
    expect(defaultMaxConnections(100)).toBe(64);
    expect(defaultMaxConnections(null)).toBe(10_000);
  });
});
