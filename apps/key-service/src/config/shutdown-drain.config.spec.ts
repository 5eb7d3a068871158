import { loadConfig } from './app.config';

const load = (env: NodeJS.ProcessEnv) => loadConfig({ NODE_ENV: 'test', DATA_DIR: '/tmp/unused', ...env });
const PRODUCTION = { NODE_ENV: 'production', AUTH_JWT_SECRET: 'x'.repeat(32), KEY_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64') };

describe('SHUTDOWN_DRAIN_MS', () => {
  it('is 5000 ms in production unless set, and 0 in development and tests (Ctrl-C stops at once)', () => {
    expect(load(PRODUCTION).shutdownDrainMs).toBe(5000);
    expect(load({}).shutdownDrainMs).toBe(0);
    expect(load({ NODE_ENV: 'development' }).shutdownDrainMs).toBe(0);
    expect(load({ SHUTDOWN_DRAIN_MS: '1500' }).shutdownDrainMs).toBe(1500);
    expect(load({ ...PRODUCTION, SHUTDOWN_DRAIN_MS: '0' }).shutdownDrainMs).toBe(0);
  });

  it('anything but a whole number of ms up to ten minutes stops start-up, naming the variable', () => {
    for (const bad of ['-1', '1.5', '5s', '600001']) {
      expect(() => load({ SHUTDOWN_DRAIN_MS: bad })).toThrow(/^SHUTDOWN_DRAIN_MS: must be an integer from 0 to 600000/);
    }
  });
});
