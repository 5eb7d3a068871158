import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EventStore } from '@lib/event-store';
import { SERVICE_STREAM_PREFIXES } from '../../stream-categories';
import { Projection } from './projection';

export interface RebuildOptions {
  /** Fresh projection instances, bound to the aside database while it is built. */
  readonly aside: readonly Projection[];
  /** The same projections, bound to the live database for the swap. */
  readonly live: readonly Projection[];
  readonly dataDir: string;
  readonly progress?: (events: number, position: number) => void;
  /** Called just before the swap takes the live database's write lock (a runner in this process pauses). */
  readonly beforeSwap?: () => void | Promise<void>;
}

export interface RebuildResult {
  readonly events: number;
  readonly position: number;
  readonly views: readonly string[];
}

const PAGE = 10_000;

/**
 * Builds views from the first event into a separate SQLite file, then swaps them in: in one
 * transaction on the live read-model database, holding its write lock, it applies to the aside copy
 * whatever the live views took in meanwhile, replaces the live tables with the aside ones and sets
 * their checkpoints. Readers see the old views until the commit and the rebuilt ones after it, never a
 * half-built one; a service running on the same DATA_DIR goes on from the swapped checkpoint.
 */
export async function rebuildAsideAndSwap(store: EventStore, liveDb: Database.Database, options: RebuildOptions): Promise<RebuildResult> {
  const asideFile = path.join(options.dataDir, `read-models.rebuild-${process.pid}.db`);
  fs.rmSync(asideFile, { force: true });
  const aside = new Database(asideFile);
  aside.pragma('journal_mode = OFF');
  aside.pragma('synchronous = OFF');
  try {
    for (const projection of options.aside) {
      projection.setup(aside);
      projection.beginRebuild?.();
    }
    // The private copy is only ever read whole, by the copy into the live file, whose tables have
    // their indexes: maintaining them here too would be work for nothing.
    for (const { name } of aside.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").all()) {
      aside.exec(`DROP INDEX "${name.replace(/"/g, '""')}"`);
    }
    let position = 0;
    let events = 0;
    const applyPage = (page: Awaited<ReturnType<EventStore['readAll']>>) =>
      aside.transaction(() => {
        for (const event of page) for (const projection of options.aside) projection.apply(event, aside);
      })();
    for (;;) {
      const page = await store.readAll(position, { limit: PAGE, streamPrefixes: SERVICE_STREAM_PREFIXES });
      if (page.length === 0) break;
      applyPage(page);
      events += page.length;
      const next = page[page.length - 1].position;
      if (Math.floor(next / 100_000) > Math.floor(position / 100_000)) options.progress?.(events, next);
      position = next;
    }

    await options.beforeSwap?.();
    liveDb.exec(`ATTACH DATABASE '${asideFile.replace(/'/g, "''")}' AS rebuilt`);
    try {
      // The live write lock, on main only: BEGIN IMMEDIATE would lock the attached copy as well, and
      // the copy is still written (the catch-up below) through its own connection.
      liveDb.exec('BEGIN');
      try {
        liveDb.prepare("DELETE FROM projection_checkpoints WHERE name = ''").run();
        // What the live views applied while the aside copy was built must be in the copy too.
        const checkpoint = liveDb.prepare<[string], { position: number }>('SELECT position FROM projection_checkpoints WHERE name = ?');
        const liveHead = Math.max(0, ...options.live.map((p) => checkpoint.get(p.name)?.position ?? 0));
        while (position < liveHead) {
          const page = (await store.readAll(position, { limit: PAGE, streamPrefixes: SERVICE_STREAM_PREFIXES })).filter((e) => e.position <= liveHead);
          if (page.length === 0) break;
          applyPage(page);
          events += page.length;
          position = page[page.length - 1].position;
        }
        for (const projection of options.aside) projection.endRebuild?.(aside);
        const setCheckpoint = liveDb.prepare(
          'INSERT INTO projection_checkpoints (name, position) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET position = excluded.position',
        );
        const setVersion = liveDb.prepare(
          'INSERT INTO projection_versions (name, version) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET version = excluded.version',
        );
        for (const projection of options.live) {
          // Unqualified names resolve to main first, then to attached files: main must have the
          // tables before reset drops them, or the drop would reach the rebuilt copy.
          projection.setup(liveDb);
          projection.reset(liveDb);
          projection.setup(liveDb);
          // Into bare tables, then each index built once from sorted data: far cheaper than row by row.
          const indexes = liveDb
            .prepare<string[], { name: string; sql: string }>(
              `SELECT name, sql FROM main.sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN (${projection.tables.map(() => '?').join(', ')})`,
            )
            .all(...projection.tables);
          for (const { name } of indexes) liveDb.exec(`DROP INDEX main."${name.replace(/"/g, '""')}"`);
          for (const table of projection.tables) liveDb.exec(`INSERT INTO main.${table} SELECT * FROM rebuilt.${table}`);
          for (const { sql } of indexes) liveDb.exec(sql);
          setCheckpoint.run(projection.name, position);
          setVersion.run(projection.name, projection.version);
        }
        liveDb.exec('COMMIT');
      } catch (error) {
        if (liveDb.inTransaction) liveDb.exec('ROLLBACK');
        throw error;
      }
    } finally {
      liveDb.exec('DETACH DATABASE rebuilt');
    }
    return { events, position, views: options.live.map((p) => p.name) };
  } finally {
    aside.close();
    fs.rmSync(asideFile, { force: true });
  }
}
