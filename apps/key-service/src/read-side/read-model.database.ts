import { Logger } from '@nestjs/common';
import type Database from 'better-sqlite3';
import * as path from 'node:path';
import { openDerivedSqliteFile } from '../common/sqlite-file';

export const READ_MODEL_DB = Symbol('READ_MODEL_DB');

/**
 * The read side's own SQLite file. synchronous=NORMAL is enough here: a view and its checkpoint
 * commit together, so a crash can only roll both back, and the projection replays from the store.
 * A new file gets 16 KiB pages: a rebuild writes its views in bulk, and on 4 KiB pages the same
 * rows cost about a fifth more to write (a file made before keeps its page size).
 *
 * Everything in it is derived from the event log: a damaged file is moved aside (`report` is told
 * where) and the views are built again from the first event, by the runner or by the rebuild.
 */
export function openReadModelDatabase(
  dataDir: string,
  report: (line: string) => void = (line) => new Logger('ReadModels').error(line),
  consequence = 'the views are built again from the event log',
): Database.Database {
  return openDerivedSqliteFile(
    path.join(dataDir, 'read-models.db'),
    (db) => {
      db.pragma('page_size = 16384');
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('busy_timeout = 5000');
      db.exec(`
        CREATE TABLE IF NOT EXISTS projection_checkpoints (name TEXT PRIMARY KEY, position INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS projection_versions (name TEXT PRIMARY KEY, version INTEGER NOT NULL);
      `);
    },
    report,
    consequence,
  );
}
