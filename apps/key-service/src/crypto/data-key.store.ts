import type Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { ConfigError } from '../config/app.config';
import { KeyWrapper } from './key-wrapper.port';
import { openIrreplaceableSqliteFile } from '../common/sqlite-file';

export const DATA_KEY_STORE = Symbol('DATA_KEY_STORE');

export interface DataKeyRow {
  readonly id: string;
  readonly owner_id: string;
  readonly created_at: string;
}

/**
 * Where wrapped data keys live, outside the event log. Deleting one is what makes the ciphertexts made
 * with it unreadable for good (crypto-shredding).
 */
export interface DataKeyStore {
  put(id: string, ownerId: string, wrapped: string, createdAt: string): Promise<void>;
  /** null once the key was destroyed. */
  get(id: string): Promise<string | null>;
  destroy(id: string): Promise<void>;
  all(): Promise<DataKeyRow[]>;
  close(): Promise<void>;
}

const CHECK_CONTEXT = 'master-key-check';

/**
 * Proves the master key against the check value kept with the data keys, or keeps one: a wrong
 * KEY_ENCRYPTION_KEY stops start-up instead of the first decrypt.
 */
export async function proveMasterKey(
  wrapper: KeyWrapper,
  stored: string | undefined,
  keep: (wrapped: string) => Promise<void>,
  where: string,
): Promise<void> {
  if (stored === undefined) return keep(await wrapper.wrap(randomBytes(32), CHECK_CONTEXT));
  try {
    await wrapper.unwrap(stored, CHECK_CONTEXT);
  } catch {
    throw new ConfigError(
      'KEY_ENCRYPTION_KEY',
      `is not the master key the data in ${where} was encrypted with (its data keys do not unwrap); start with the original key`,
    );
  }
}

/**
 * The embedded data-key store (with EVENT_STORE=sqlite or kurrentdb): `data-keys.db` under DATA_DIR,
 * with a rollback journal (not WAL, whose frames can keep old page images) and secure_delete, so a
 * deleted row is overwritten in the file.
 */
export class SqliteDataKeyStore implements DataKeyStore {
  private readonly db: Database.Database;
  private readonly stmt: {
    put: Database.Statement<[string, string, string, string]>;
    get: Database.Statement<[string], { wrapped: string }>;
    destroy: Database.Statement<[string]>;
    all: Database.Statement<[], DataKeyRow>;
  };

  private constructor(file: string) {
    this.db = openIrreplaceableSqliteFile(
      file,
      (db) => {
        db.pragma('journal_mode = DELETE');
        db.pragma('synchronous = FULL');
        db.pragma('secure_delete = ON');
        db.pragma('busy_timeout = 5000');
        db.exec(`
          CREATE TABLE IF NOT EXISTS data_keys (id TEXT PRIMARY KEY, owner_id TEXT NOT NULL, wrapped TEXT NOT NULL, created_at TEXT NOT NULL);
          CREATE INDEX IF NOT EXISTS data_keys_by_owner ON data_keys (owner_id);
          CREATE TABLE IF NOT EXISTS master_key_check (id INTEGER PRIMARY KEY CHECK (id = 1), wrapped TEXT NOT NULL);
        `);
      },
      'It holds the data keys of the provider secrets, which the event log cannot rebuild: stop the service, keep the file, ' +
        'and restore it from a backup (it is readable only with the same master key); without it, every provider key must be entered again',
    );
    this.stmt = {
      put: this.db.prepare('INSERT INTO data_keys (id, owner_id, wrapped, created_at) VALUES (?, ?, ?, ?)'),
      get: this.db.prepare('SELECT wrapped FROM data_keys WHERE id = ?'),
      destroy: this.db.prepare('DELETE FROM data_keys WHERE id = ?'),
      all: this.db.prepare('SELECT id, owner_id, created_at FROM data_keys ORDER BY created_at'),
    };
  }

  static async open(dataDir: string, wrapper: KeyWrapper): Promise<SqliteDataKeyStore> {
    const store = new SqliteDataKeyStore(path.join(dataDir, 'data-keys.db'));
    const check = store.db.prepare<[], { wrapped: string }>('SELECT wrapped FROM master_key_check WHERE id = 1').get();
    try {
      await proveMasterKey(
        wrapper,
        check?.wrapped,
        async (wrapped) => void store.db.prepare('INSERT INTO master_key_check (id, wrapped) VALUES (1, ?)').run(wrapped),
        dataDir,
      );
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  async put(id: string, ownerId: string, wrapped: string, createdAt: string): Promise<void> {
    this.stmt.put.run(id, ownerId, wrapped, createdAt);
  }

  async get(id: string): Promise<string | null> {
    return this.stmt.get.get(id)?.wrapped ?? null;
  }

  async destroy(id: string): Promise<void> {
    this.stmt.destroy.run(id);
  }

  async all(): Promise<DataKeyRow[]> {
    return this.stmt.all.all();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
