import { loadConfig } from './app.config';

const load = (env: NodeJS.ProcessEnv) => loadConfig({ NODE_ENV: 'test', DATA_DIR: '/tmp/unused', ...env });

describe('PUBLIC_BASE_URL and AUTH_MAX_TOKEN_TTL_S', () => {
  it('PUBLIC_BASE_URL: absent means relative links; an http(s) URL with an optional path prefix is kept without its trailing slash', () => {
    expect(load({}).publicBaseUrl).toBeNull();
    expect(load({ PUBLIC_BASE_URL: '' }).publicBaseUrl).toBeNull();
    expect(load({ PUBLIC_BASE_URL: 'https://keys.example.com' }).publicBaseUrl).toBe('https://keys.example.com');
    expect(load({ PUBLIC_BASE_URL: 'https://keys.example.com/' }).publicBaseUrl).toBe('https://keys.example.com');
    expect(load({ PUBLIC_BASE_URL: 'http://10.0.0.5:8080/keys/' }).publicBaseUrl).toBe('http://10.0.0.5:8080/keys');
  });

  it('PUBLIC_BASE_URL: anything links cannot be appended to stops start-up, naming the variable', () => {
    const bad = ['keys.example.com', 'ftp://keys.example.com', 'https://keys.example.com/?a=1', 'https://keys.example.com/#x', 'https://user:pw@keys.example.com'];
    for (const value of [...bad, 'https://']) {
      expect(() => load({ PUBLIC_BASE_URL: value })).toThrow(/^PUBLIC_BASE_URL: must be an http or https URL/);
    }
  });

  it('AUTH_MAX_TOKEN_TTL_S: 365 days unless set, a whole number of seconds from 60 to ten years', () => {
    expect(load({}).maxTokenTtlSeconds).toBe(31_536_000);
    expect(load({ AUTH_MAX_TOKEN_TTL_S: '86400' }).maxTokenTtlSeconds).toBe(86_400);
    for (const bad of ['0', '59', '1.5', '-1', 'forever', '315360001']) {
      expect(() => load({ AUTH_MAX_TOKEN_TTL_S: bad })).toThrow(/^AUTH_MAX_TOKEN_TTL_S: must be an integer from 60 to 315360000/);
    }
  });
});
