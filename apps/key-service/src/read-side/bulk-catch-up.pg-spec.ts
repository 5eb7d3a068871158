import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TestApp, startTestApp } from '../../../../test/support/test-app';
import { appendKeys, snapshot } from '../../../../test/support/bulk-catch-up';
import { freshDatabase } from '../../../../test/support/postgres';
import { BULK_CATCH_UP_MIN_EVENTS, CatchUpMode, ProjectionRunner } from './projection-runner';

describe('a new instance on a shared PostgreSQL log catches up in bulk', () => {
  const apps: TestApp[] = [];
  afterAll(async () => {
    for (const t of apps) await t.close().catch(() => undefined);
  });

  it('takes the bulk path through the port, then follows: its views equal those of an instance that followed event by event', async () => {
    // One master key for both: the data keys are in the shared database, wrapped with it.
    const env = { EVENT_STORE: 'postgres', DATABASE_URL: await freshDatabase(), KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64') };
    const start = async () => {
      const t = await startTestApp({ env }, fs.mkdtempSync(path.join(os.tmpdir(), 'bulk-catch-up-pg-')));
      apps.push(t);
      return t;
    };
    // The first instance follows the log while it grows: event by event.
    const first = await start();
    const head = await appendKeys(first.store, 0, 5_000);
    expect(head).toBeGreaterThanOrEqual(BULK_CATCH_UP_MIN_EVENTS);
    await first.app.get(ProjectionRunner).waitFor(head);

    // A second instance, its own DATA_DIR (no views), the same log.
    const second = await start();
    const runner = second.app.get(ProjectionRunner);
    let settled: CatchUpMode | null = null;
    void runner.startUp.then((mode) => (settled = mode));
    const later = await appendKeys(second.store, 5_000, 5_030);
    expect(settled).toBeNull();
    expect(await runner.startUp).toBe('bulk');
    await runner.waitFor(later);
    await first.app.get(ProjectionRunner).waitFor(later);
    expect(runner.checkpoint).toBe(later);

    const bulk = snapshot(second);
    expect(bulk.tables.key_views.length).toBe(5_030);
    expect(bulk).toEqual(snapshot(first));
  });
});
