import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SqliteEventStore } from './sqlite.event-store';
import { StoreUnavailableError } from './store-unavailable.error';

// A tmpfs needs root (the suites run as root).
const asRoot = process.getuid?.() === 0;
if (!asRoot) console.warn('sqlite.event-store.full-disk.int-spec: skipped, mounting a tmpfs needs root');

(asRoot ? describe : describe.skip)('SQLite event store on a full disk (a small tmpfs)', () => {
  let mount: string;
  beforeEach(() => {
    mount = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlite-store-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mount]);
  });
  afterEach(() => {
    execFileSync('umount', [mount]);
    fs.rmdirSync(mount);
  });

  it('answers every append of a batch that cannot commit with StoreUnavailableError, and appends again once there is room', async () => {
    const file = path.join(mount, 'events.db');
    const store = new SqliteEventStore(file);
    await store.appendToStream('before', [{ type: 'A', data: {} }], 'no_stream');
    const filler = path.join(mount, 'filler');
    const { bavail, bsize } = fs.statfsSync(mount);
    fs.writeFileSync(filler, Buffer.alloc(bavail * bsize));

    const body = { blob: 'x'.repeat(8000) };
    const appends = Array.from({ length: 50 }, (_, i) => store.appendToStream(`s-${i}`, [{ type: 'A', data: body }], 'no_stream'));
    let timer: NodeJS.Timeout | undefined;
    const settled = await Promise.race([
      Promise.allSettled(appends),
      new Promise<'pending'>((r) => (timer = setTimeout(() => r('pending'), 5000))),
    ]);
    clearTimeout(timer);
    expect(settled).not.toBe('pending');
    const results = settled as PromiseSettledResult<unknown>[];
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(failed.length).toBeGreaterThan(0);
    for (const { reason } of failed) {
      expect(reason).toBeInstanceOf(StoreUnavailableError);
      expect((reason as StoreUnavailableError).reason).toBe('disk full (SQLITE_FULL)');
    }
    const acknowledged = results.flatMap((r, i) => (r.status === 'fulfilled' ? [`s-${i}`] : []));

    fs.rmSync(filler);
    await store.appendToStream('after', [{ type: 'A', data: body }], 'no_stream');
    await store.close();

    const reopened = new SqliteEventStore(file);
    const streams = new Set((await reopened.readAll(0, { limit: 1000 })).map((e) => e.streamId));
    for (const stream of ['before', ...acknowledged, 'after']) expect(streams).toContain(stream);
    await reopened.close();
  });
});
