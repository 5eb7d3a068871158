import { loadConfig } from './app.config';

const load = (env: NodeJS.ProcessEnv) => loadConfig({ NODE_ENV: 'test', DATA_DIR: '/tmp/unused', ...env });

describe('LEASE_TTL_MS and INSTANCE_ID (a fleet)', () => {
  it('LEASE_TTL_MS is 10,000 ms unless set, from 1,000 to 600,000', () => {
    expect(load({}).leaseTtlMs).toBe(10_000);
    expect(load({ LEASE_TTL_MS: '4000' }).leaseTtlMs).toBe(4000);
    expect(load({ LEASE_TTL_MS: '' }).leaseTtlMs).toBe(10_000);
    for (const bad of ['999', '600001', '5s', '1.5']) {
      expect(() => load({ LEASE_TTL_MS: bad })).toThrow(/^LEASE_TTL_MS: /);
    }
  });

  it('INSTANCE_ID defaults to a name no other process has; a given one must be 1-128 plain characters', () => {
    const a = load({}).instanceId;
    const b = load({}).instanceId;
    expect(a).toMatch(new RegExp(`:${process.pid}:[0-9a-f]{8}$`));
    expect(a).not.toBe(b);
    expect(load({ INSTANCE_ID: 'key-service-0.eu:1' }).instanceId).toBe('key-service-0.eu:1');
    for (const bad of ['has space', 'x'.repeat(129), 'ünï', 'a/b']) {
      expect(() => load({ INSTANCE_ID: bad })).toThrow(/^INSTANCE_ID: must be 1-128 characters/);
    }
  });
});
