import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MAIN, ServiceProcess, api, startService } from './support/service-process';
import { usesPostgres } from './support/postgres';

const KEYS = '/v2/gen-ai/models/api_keys';

/** Damage done to a SQLite file while no process has it open. */
const DAMAGE: Record<string, (file: string) => void> = {
  'a zeroed header': (file) => {
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.alloc(100), 0, 100, 0);
    fs.closeSync(fd);
  },
  // Every page after the first (the header and schema) overwritten with random bytes.
  'random pages': (file) => {
    const pageSize = fs.readFileSync(file).readUInt16BE(16) || 65536;
    const pages = Math.floor(fs.statSync(file).size / pageSize);
    expect(pages).toBeGreaterThan(1);
    const fd = fs.openSync(file, 'r+');
    for (let page = 1; page < pages; page++) fs.writeSync(fd, randomBytes(pageSize), 0, pageSize, page * pageSize);
    fs.closeSync(fd);
  },
};

async function until(what: string, condition: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('damaged files in DATA_DIR (end to end)', () => {
  let service: ServiceProcess | undefined;
  afterEach(async () => {
    await service?.kill('SIGKILL');
    if (service) fs.rmSync(service.dataDir, { recursive: true, force: true });
    service = undefined;
  });

  /** A service with three keys (one renamed, one deleted), stopped cleanly: its files are whole and closed. */
  async function stoppedServiceWithKeys(): Promise<{ keys: Array<{ uuid: string; name: string }>; deleted: string }> {
    service = await startService();
    const token = service.token('team-1', '100', 'owner');
    const keys = [];
    for (const name of ['alpha', 'beta', 'gamma']) keys.push((await api(service.baseUrl, 'POST', KEYS, token, { name })).body.api_key_info);
    await api(service.baseUrl, 'PUT', `${KEYS}/${keys[1].uuid}`, token, { api_key_uuid: keys[1].uuid, name: 'beta-renamed' });
    await api(service.baseUrl, 'DELETE', `${KEYS}/${keys[2].uuid}`, token);
    await service.kill('SIGTERM');
    return { keys: [{ uuid: keys[0].uuid, name: 'alpha' }, { uuid: keys[1].uuid, name: 'beta-renamed' }], deleted: keys[2].uuid };
  }

  async function expectKeysServed(restarted: ServiceProcess, keys: Array<{ uuid: string; name: string }>, deleted: string) {
    await until('the views to be rebuilt', async () => (await api(restarted.baseUrl, 'GET', '/readyz', null)).status === 200);
    const token = restarted.token('team-1', '100', 'owner');
    for (const key of keys) {
      expect(await api(restarted.baseUrl, 'GET', `${KEYS}/${key.uuid}`, token)).toMatchObject({ status: 200, body: { api_key_info: { name: key.name } } });
    }
    expect((await api(restarted.baseUrl, 'GET', `${KEYS}/${deleted}`, token)).status).toBe(404);
    expect((await api(restarted.baseUrl, 'GET', `${KEYS}?page=1&per_page=20`, token)).body.meta.total).toBe(2);
  }

  /** The log line names the file and where it went; the moved file is there, and a new one in its place. */
  function expectMovedAside(output: string, dataDir: string, name: string) {
    const file = path.join(dataDir, name);
    const line = output.split('\n').find((l) => l.includes(`${file} is corrupt`));
    expect(line).toBeDefined();
    const moved = /moved it to (\S+)/.exec(line!)?.[1];
    expect(moved).toMatch(new RegExp(`^${file.replace(/[.]/g, '\\.')}\\.corrupt-\\d{4}-\\d\\d-\\d\\dT[\\d-]+Z$`));
    expect(fs.existsSync(moved!)).toBe(true);
    expect(fs.existsSync(file)).toBe(true);
  }

  for (const [damage, apply] of Object.entries(DAMAGE)) {
    it(`a read-models.db with ${damage} is moved aside at start-up, and the views are rebuilt from the log and served`, async () => {
      const { keys, deleted } = await stoppedServiceWithKeys();
      const dataDir = service!.dataDir;
      apply(path.join(dataDir, 'read-models.db'));
      service = await startService({ dataDir });
      expectMovedAside(service.output(), dataDir, 'read-models.db');
      await expectKeysServed(service, keys, deleted);
    });

    it(`keyctl projections rebuild moves a read-models.db with ${damage} aside and builds the views anew`, async () => {
      const { keys, deleted } = await stoppedServiceWithKeys();
      const dataDir = service!.dataDir;
      apply(path.join(dataDir, 'read-models.db'));
      const rebuilt = service!.keyctl('projections', 'rebuild');
      expect(rebuilt.status).toBe(0);
      expectMovedAside(rebuilt.stderr, dataDir, 'read-models.db');
      expect(rebuilt.stderr).toMatch(/rebuilt key_views, .* from \d+ events/);
      service = await startService({ dataDir });
      expect(service.output()).not.toContain('is corrupt');
      await expectKeysServed(service, keys, deleted);
    });
  }

  // With EVENT_STORE=postgres the records are a table beside the events: there is no file to damage.
  if (usesPostgres()) it('with PostgreSQL no idempotency.db is written: the records are in the database', async () => {
    const { keys, deleted } = await stoppedServiceWithKeys();
    const dataDir = service!.dataDir;
    expect(fs.existsSync(path.join(dataDir, 'idempotency.db'))).toBe(false);
    service = await startService({ dataDir });
    await expectKeysServed(service, keys, deleted);
  });

  else it('a damaged idempotency.db is moved aside (its replays are lost, never a key) and the service starts', async () => {
    const { keys, deleted } = await stoppedServiceWithKeys();
    const dataDir = service!.dataDir;
    DAMAGE['a zeroed header'](path.join(dataDir, 'idempotency.db'));
    service = await startService({ dataDir });
    expectMovedAside(service.output(), dataDir, 'idempotency.db');
    expect(service.output()).toContain('a retry of such a request runs again');
    await expectKeysServed(service, keys, deleted);
    const token = service.token('team-1', '100', 'owner');
    const retried = await fetch(`${service.baseUrl}${KEYS}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': 'after-the-move' },
      body: JSON.stringify({ name: 'delta' }),
    });
    expect(retried.status).toBe(200);
  });

  const irreplaceable: Array<[string, string, RegExp]> = [
    ['events.db', 'a zeroed header', /events\.db is corrupt .*It is the event log, which nothing can rebuild: .*restore it/],
    ['events.db', 'random pages', /events\.db is corrupt .*restore it/],
    ['data-keys.db', 'a zeroed header', /data-keys\.db is corrupt .*restore it from a backup/],
    ['data-keys.db', 'random pages', /data-keys\.db is corrupt .*restore it from a backup/],
  ];
  // With EVENT_STORE=postgres neither file exists (the events and data keys are tables): these run with SQLite only.
  for (const [name, damage, message] of usesPostgres() ? [] : irreplaceable) {
    it(`a ${name} with ${damage} stops start-up with one line naming the file and what to do`, async () => {
      await stoppedServiceWithKeys();
      const dataDir = service!.dataDir;
      DAMAGE[damage](path.join(dataDir, name));
      const started = spawnSync(process.execPath, [MAIN], { env: service!.env, encoding: 'utf8', timeout: 60_000 });
      expect(started.status).not.toBe(0);
      const line = started.stderr.split('\n').find((l) => l.startsWith('Start-up failed: '));
      expect(line).toContain(path.join(dataDir, name));
      expect(line).toMatch(message);
      expect(fs.existsSync(path.join(dataDir, name))).toBe(true); // left where it is, for the operator
    });
  }

  it('a damaged master.key stops start-up with one line naming the file and what to do', async () => {
    await stoppedServiceWithKeys();
    const dataDir = service!.dataDir;
    fs.writeFileSync(path.join(dataDir, 'master.key'), 'not a key\n');
    const started = spawnSync(process.execPath, [MAIN], { env: service!.env, encoding: 'utf8', timeout: 60_000 });
    expect(started.status).not.toBe(0);
    const line = started.stderr.split('\n').find((l) => l.startsWith('Start-up failed: '));
    expect(line).toContain(path.join(dataDir, 'master.key'));
    expect(line).toMatch(/restore it from a backup, or set KEY_ENCRYPTION_KEY/);
  });
});
