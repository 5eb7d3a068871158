import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import { isCorruptFileError } from '@lib/event-store';

/** A SQLite file whose bytes are damaged (SQLITE_CORRUPT, SQLITE_NOTADB, or a failed quick_check). */
export class CorruptFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CorruptFileError';
  }
}

/**
 * Opens `file`, runs `prepare` (pragmas, schema), then PRAGMA quick_check: a zeroed header fails at the
 * first pragma, damaged pages at the check (it reads every page, about half a second for 300 MB), so
 * damage shows at start-up, not at some later read. Throws the SQLite error; the handle is closed.
 */
export function openCheckedSqliteFile(file: string, prepare: (db: Database.Database) => void): Database.Database {
  const db = new Database(file);
  try {
    prepare(db);
    const check = String(db.pragma('quick_check(1)', { simple: true }));
    if (check !== 'ok') {
      // Its report spans lines ("*** in database main ***\nPage 2: ..."): one line for the log.
      throw Object.assign(new Error(`quick_check: ${check.replace(/\s+/g, ' ').trim()}`), { code: 'SQLITE_CORRUPT' });
    }
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/**
 * A file the service can do without (the read models, built again from the log; the idempotency
 * answers): a damaged one is moved aside with its -wal and -shm, `report` is told where it went and
 * `consequence`, and an empty file is opened in its place.
 */
export function openDerivedSqliteFile(
  file: string,
  prepare: (db: Database.Database) => void,
  report: (line: string) => void,
  consequence: string,
): Database.Database {
  try {
    return openCheckedSqliteFile(file, prepare);
  } catch (error) {
    if (!isCorruptFileError(error)) throw error;
    const moved = moveAside(file);
    report(`${file} is corrupt (${(error as Error).message}): moved it to ${moved} (with its -wal and -shm files); ${consequence}`);
    return openCheckedSqliteFile(file, prepare);
  }
}

/** A file nothing can rebuild: a damaged one stops start-up with one line naming it and `remedy`. */
export function openIrreplaceableSqliteFile(file: string, prepare: (db: Database.Database) => void, remedy: string): Database.Database {
  try {
    return openCheckedSqliteFile(file, prepare);
  } catch (error) {
    if (!isCorruptFileError(error)) throw error;
    throw new CorruptFileError(`${file} is corrupt (${(error as Error).message}). ${remedy}`);
  }
}

/** Renames the file and its companions to FILE.corrupt-<UTC time>[-wal|-shm|-journal]; returns the new name. */
function moveAside(file: string): string {
  const aside = `${file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  for (const suffix of ['', '-wal', '-shm', '-journal']) {
    if (fs.existsSync(`${file}${suffix}`)) fs.renameSync(`${file}${suffix}`, `${aside}${suffix}`);
  }
  return aside;
}
