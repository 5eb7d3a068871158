import { ConfigError, loadConfig } from '../config/app.config';
import { loadGatewayConfig } from '../../../gateway/src/gateway.config';

describe('LOG_FORMAT', () => {
  const base = { DATA_DIR: '/tmp/unused', NODE_ENV: 'test' as const };

  it('defaults to JSON lines unless the logs go to a terminal, where it is text', () => {
    expect(loadConfig(base, false).logFormat).toBe('json');
    expect(loadConfig(base, true).logFormat).toBe('text');
  });

  it('is json or text when set, whatever the terminal', () => {
    expect(loadConfig({ ...base, LOG_FORMAT: 'json' }, true).logFormat).toBe('json');
    expect(loadConfig({ ...base, LOG_FORMAT: 'text' }, false).logFormat).toBe('text');
  });

  it('refuses anything else, naming the variable', () => {
    expect(() => loadConfig({ ...base, LOG_FORMAT: 'xml' }, false)).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, LOG_FORMAT: 'JSON' }, false)).toThrow('LOG_FORMAT: must be one of json, text (got "JSON")');
  });

  it('the reference gateway reads and checks it the same way', () => {
    const env = { GATEWAY_TOKEN: 't', UPSTREAM_URL: 'http://127.0.0.1:9000' };
    expect(loadGatewayConfig({ ...env, LOG_FORMAT: 'text' }).logFormat).toBe('text');
    expect(() => loadGatewayConfig({ ...env, LOG_FORMAT: 'yaml' })).toThrow('LOG_FORMAT: must be one of json, text');
  });
});
