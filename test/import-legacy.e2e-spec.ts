import { createHash } from 'node:crypto';
import { ServiceProcess, startService } from './support/service-process';

const sha256 = (secret: string) => createHash('sha256').update(secret).digest('hex');

describe('keyctl import-legacy against the running service’s store', () => {
  let service: ServiceProcess;
  afterEach(async () => service?.kill());

  it('imports once per secret hash, and refuses a bad --uuid, a future --created-at or a bad --secret-prefix with exit 1', async () => {
    service = await startService();
    const hash = sha256('mak_the-one-legacy-secret');
    const importLegacy = (...extra: string[]) => service.keyctl('import-legacy', '--user', '900', '--name', 'old', ...extra);

    const first = importLegacy('--team', 'team-1', '--secret-hash', hash, '--secret-prefix', 'mak_legacy12', '--uuid', '6F1F5C3E-AAAA-4BBB-8CCC-DDDDDDDDDDDD');
    expect(first.status).toBe(0);
    expect(JSON.parse(first.stdout).api_key_info).toMatchObject({ uuid: '6f1f5c3e-aaaa-4bbb-8ccc-dddddddddddd', legacy: true, secret_prefix: 'mak_legacy12' });

    const shared = importLegacy('--team', 'team-2', '--secret-hash', hash);
    expect(shared.status).toBe(1);
    expect(shared.stderr).toContain('secret hash is already in use');
    expect(shared.stdout).toBe('');

    const other = () => sha256(`mak_${Math.random()}`);
    const refused = [
      [importLegacy('--team', 'team-2', '--secret-hash', other(), '--uuid', 'not-a-uuid'), 'uuid must be a UUID'],
      [importLegacy('--team', 'team-2', '--secret-hash', other(), '--created-at', '2999-01-01'), 'created_at must not be later than now'],
      [importLegacy('--team', 'team-2', '--secret-hash', other(), '--secret-prefix', 'has space'), 'secret prefix must be 1-16 printable ASCII'],
    ] as const;
    for (const [result, message] of refused) {
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(message);
    }
    const exported = service.keyctl('audit', 'export', '--team', 'team-2');
    expect(exported.stdout).toBe('');
  });
});
