import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { query, usesPostgres } from './support/postgres';
import { KEYCTL, ServiceProcess, api, startService } from './support/service-process';

const KEYS = '/v2/gen-ai/models/api_keys';

describe('keyctl audit verify (tamper evidence) on the started service’s store', () => {
  let service: ServiceProcess;
  afterEach(async () => service?.kill());

  it('reports an intact chain, then names the first broken link after a row is edited in the store (the SQLite file, or the PostgreSQL table)', async () => {
    service = await startService();
    const owner = service.token('team-1', 'u1', 'owner');
    const uuids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const created = await api(service.baseUrl, 'POST', KEYS, owner, { name: `k${i}` });
      uuids.push(created.body.api_key_info.uuid);
      await api(service.baseUrl, 'PUT', `${KEYS}/${created.body.api_key_info.uuid}`, owner, { name: `renamed-${i}` });
    }
    const exported = service.keyctl('audit', 'export', '--team', 'team-1');
    expect(exported.status).toBe(0);
    const lines = exported.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(lines.map((e) => e.type)).toEqual(['ModelAccessKeyCreated', 'ModelAccessKeyRenamed', 'ModelAccessKeyCreated', 'ModelAccessKeyRenamed', 'ModelAccessKeyCreated', 'ModelAccessKeyRenamed']);
    expect(exported.stderr).toContain('6 events of team team-1 exported');
    // Another DATA_DIR than the service's: no store there, said so, and none made.
    if (!usesPostgres(service.env)) {
      const elsewhere = path.join(service.dataDir, 'not-the-data-dir');
      for (const command of [['audit', 'export', '--team', 'team-1'], ['audit', 'verify']]) {
        const missing = spawnSync(process.execPath, [KEYCTL, ...command], { env: { ...service.env, DATA_DIR: elsewhere }, encoding: 'utf8' });
        expect(missing.status).toBe(1);
        expect(missing.stderr).toContain(`keyctl: no event store at ${path.join(elsewhere, 'events.db')} (DATA_DIR=${elsewhere}): set DATA_DIR to the service's`);
        expect(fs.existsSync(elsewhere)).toBe(false);
      }
    }
    const future = service.keyctl('audit', 'export', '--team', 'team-1', '--from', '2999-01-01T00:00:00Z');
    expect(future.stdout).toBe('');
    expect(service.keyctl('audit', 'export', '--team', 'team-1', '--from', 'soon').stderr).toContain('--from must be a date (YYYY-MM-DD, 00:00 UTC) or a date-time with an offset');
    // Read in the host's zone, a date-time without an offset would mean another instant on another host.
    expect(service.keyctl('audit', 'export', '--team', 'team-1', '--from', '2026-11-30T10:00:00').stderr).toContain('--from must be a date');

    const keysBefore = await api(service.baseUrl, 'GET', KEYS, owner);
    const rebuilt = service.keyctl('projections', 'rebuild');
    expect(rebuilt.status).toBe(0);
    expect(rebuilt.stderr).toContain('rebuilt key_views, revocations, audit_events, provider_key_views, key_previous_secrets, provider_key_agents, provider_key_reads from 6 events up to position 6');
    expect(await api(service.baseUrl, 'GET', KEYS, owner)).toEqual(keysBefore);
    expect(service.keyctl('projections', 'rebuild', '--name', 'nope').stderr).toContain('--name must be one of key_views, revocations, audit_events, provider_key_views, key_previous_secrets, provider_key_agents, provider_key_reads');
    expect(service.keyctl('projections', 'rebuild', '--name', 'key_views').status).toBe(0);

    const intact = service.keyctl('audit', 'verify');
    expect(intact.stdout.trim()).toBe('3 streams, 6 events, chain intact');
    expect(intact.status).toBe(0);
    // An outside auditor recomputes every hash of the export with a standard RFC 8785 implementation (the README's lines).
    const recomputed = spawnSync(process.execPath, [path.join(__dirname, '../scripts/recompute-hash.mjs')], { input: exported.stdout, encoding: 'utf8' });
    expect(recomputed.status).toBe(0);
    expect(recomputed.stdout.trim().split('\n')).toEqual(lines.map((e) => `${e.position} ok`));
    const chain = await api(service.baseUrl, 'GET', `/v1/audit/keys/${uuids[1]}/chain`, owner);
    expect(chain.status).toBe(200);
    expect(chain.body).toEqual({
      stream_id: `model_access_key-${uuids[1]}`,
      events: 2,
      head_revision: 1,
      head_hash: lines[3].hash,
      intact: true,
      broken: null,
      hash_algorithm: 'SHA-256',
      canonicalization: 'RFC 8785',
    });
    expect((await api(service.baseUrl, 'GET', `/v1/audit/keys/${uuids[1]}/chain`, service.token('team-2', 'u2', 'owner'))).status).toBe(404);
    expect((await api(service.baseUrl, 'GET', `/v1/audit/keys/${uuids[1]}/chain`, service.token('team-1', 'm1', 'member'))).status).toBe(403);
    await service.kill();

    const stream = `model_access_key-${uuids[1]}`;
    if (usesPostgres(service.env)) {
      await query(service.env.DATABASE_URL!, `UPDATE events SET data = replace(data::text, 'renamed-1', 'forged')::json WHERE stream_id = $1 AND revision = 1`, [stream]);
    } else {
      const db = new Database(path.join(service.dataDir, 'events.db'));
      db.prepare(`UPDATE events SET data = replace(data, 'renamed-1', 'forged') WHERE stream_id = ? AND revision = 1`).run(stream);
      db.close();
    }
    const broken = service.keyctl('audit', 'verify');
    expect(broken.status).toBe(1);
    expect(broken.stdout).toContain(`chain broken in stream model_access_key-${uuids[1]} at revision 1`);
    expect(broken.stdout).toMatch(/hash is [0-9a-f]{64}, expected [0-9a-f]{64}/);

    // The API shows the same break to the team's auditors.
    service = await startService({ dataDir: service.dataDir, env: { DATABASE_URL: service.env.DATABASE_URL } });
    const auditor = service.token('team-1', 'a1', 'auditor');
    const brokenChain = await api(service.baseUrl, 'GET', `/v1/audit/keys/${uuids[1]}/chain`, auditor);
    expect(brokenChain.body).toMatchObject({ events: 2, intact: false, broken: { revision: 1, field: 'hash', found: lines[3].hash } });
    expect((await api(service.baseUrl, 'GET', `/v1/audit/keys/${uuids[0]}/chain`, auditor)).body).toMatchObject({ intact: true, broken: null });
  });
});
