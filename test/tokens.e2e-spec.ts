import { spawnSync } from 'node:child_process';
import { hs256KeyId } from '../apps/key-service/src/auth/token.service';
import { KEYCTL, ServiceProcess, api, startService } from './support/service-process';

describe('keyctl token and the token lifetime cap, against the running service', () => {
  let service: ServiceProcess;

  beforeAll(async () => {
    service = await startService();
  });
  afterAll(() => service?.kill());

  const token = (...extra: string[]) => service.keyctl('token', '--team', 'ops', '--user', 'gateway', '--role', 'gateway', ...extra);

  it('mints the README’s year-long gateway token (--ttl 31536000), and the service accepts it', async () => {
    const minted = token('--ttl', '31536000');
    expect(minted.status).toBe(0);
    expect((await api(service.baseUrl, 'GET', '/v1/revocations', minted.stdout.trim())).status).toBe(200);
  });

  it('refuses a --ttl above AUTH_MAX_TOKEN_TTL_S with a message naming the setting, and prints no token', () => {
    const refused = token('--ttl', '31536001');
    expect(refused.status).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toBe('keyctl: --ttl 31536001 is longer than AUTH_MAX_TOKEN_TTL_S (31536000 s): the service would refuse the token\n');
  });

  it('follows a lower AUTH_MAX_TOKEN_TTL_S: longer is refused, and the default lifetime shrinks to the cap', () => {
    const capped = { ...service.env, AUTH_MAX_TOKEN_TTL_S: '3600' };
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [KEYCTL, 'token', '--team', 'ops', '--user', 'u', '--role', 'owner', ...args], { env: capped, encoding: 'utf8' });
    const long = run('--ttl', '7200');
    expect(long.status).toBe(1);
    expect(long.stderr).toContain('--ttl 7200 is longer than AUTH_MAX_TOKEN_TTL_S (3600 s)');
    const fallback = run();
    expect(fallback.status).toBe(0);
    const [, payload] = fallback.stdout.trim().split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { iat: number; exp: number };
    expect(claims.exp - claims.iat).toBe(3600);
  });

  it('refuses a --ttl that is not a whole number of seconds, and a team or user the service would refuse', () => {
    for (const ttl of ['1e3', '12.5', '0x10', ' 5']) expect(token('--ttl', ttl).stderr).toContain('--ttl must be a positive whole number of seconds');
    const bad = (team: string, user: string) => service.keyctl('token', '--team', team, '--user', user, '--role', 'owner');
    expect(bad('a/b', 'u').stderr).toContain('--team must be 1-128 letters');
    expect(bad('team-1', 'u\u202e').stderr).toContain('--user must be 1-256 printable characters');
    expect(bad('team-1', 'u\u202e').stdout).toBe('');
  });

  it('keyctl has --version, --help on every command, and names the options when one is unknown', () => {
    const version = service.keyctl('--version');
    expect(version.status).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    for (const command of [['token'], ['import-legacy'], ['audit', 'verify'], ['audit', 'export'], ['projections', 'rebuild']]) {
      const help = service.keyctl(...command, '--help');
      expect(help.status).toBe(0);
      expect(help.stdout).toContain(`Usage: keyctl ${command.join(' ')}`);
    }
    const unknown = service.keyctl('token', '--team', 'ops', '--user', 'u', '--role', 'owner', '--tll', '60');
    expect(unknown.status).toBe(1);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toContain("unknown option '--tll'");
    expect(unknown.stderr).toContain('--ttl <seconds>');
  });

  it('signs with the current AUTH_JWT_SECRET under its kid, never with a previous one, during a rotation', async () => {
    const current = 'the-current-secret-of-this-e2e-test-000000001';
    const previous = 'the-previous-secret-of-this-e2e-test-00000002';
    const rotated = spawnSync(process.execPath, [KEYCTL, 'token', '--team', 'ops', '--user', 'u', '--role', 'owner'], {
      env: { ...service.env, AUTH_JWT_SECRET: current, AUTH_JWT_PREVIOUS_SECRETS: previous },
      encoding: 'utf8',
    });
    expect(rotated.status).toBe(0);
    const header = JSON.parse(Buffer.from(rotated.stdout.split('.')[0], 'base64url').toString('utf8')) as { alg: string; kid: string };
    expect(header).toEqual({ alg: 'HS256', typ: 'JWT', kid: hs256KeyId(current) });
    // The running service holds neither secret: the token is refused, naming why.
    const refused = await api(service.baseUrl, 'GET', '/v2/gen-ai/models/api_keys', rotated.stdout.trim());
    expect([refused.status, refused.body.message]).toEqual([401, 'invalid token: signed with a secret this service does not hold (neither AUTH_JWT_SECRET nor AUTH_JWT_PREVIOUS_SECRETS)']);
  });
});
