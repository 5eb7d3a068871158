import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { ConfigError } from '../config/app.config';
import { KeyWrapper } from './key-wrapper.port';

export const DATA_KEY_STORE = Symbol('DATA_KEY_STORE');

export interface DataKeyRow {
  readonly id: string;
  readonly owner_id: string;
  readonly created_at: string;
}

const CHECK_CONTEXT = 'master-key-check';

/**
 * The wrapped data keys, outside the event log: deleting a row is what makes a ciphertext in the log
 * unreadable for good (crypto-shredding). Its own SQLite file with a rollback journal (not WAL, whose
 * frames can keep old page images) and secure_delete, so a deleted row is overwritten in the file.
 */
export class DataKeyStore {
  private readonly db: Database.Database;
  private readonly stmt: {
    put: Database.Statement<[string, string, string, string]>;
    get: Database.Statement<[string], { wrapped: string }>;
    destroy: Database.Statement<[string]>;
    all: Database.Statement<[], DataKeyRow>;
  };

  private constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = DELETE');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('secure_delete = ON');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS data_keys (id TEXT PRIMARY KEY, owner_id TEXT NOT NULL, wrapped TEXT NOT NULL, created_at TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS data_keys_by_owner ON data_keys (owner_id);
      CREATE TABLE IF NOT EXISTS master_key_check (id INTEGER PRIMARY KEY CHECK (id = 1), wrapped TEXT NOT NULL);
    `);
    this.stmt = {
      put: this.db.prepare('INSERT INTO data_keys (id, owner_id, wrapped, created_at) VALUES (?, ?, ?, ?)'),
      get: this.db.prepare('SELECT wrapped FROM data_keys WHERE id = ?'),
      destroy: this.db.prepare('DELETE FROM data_keys WHERE id = ?'),
      all: this.db.prepare('SELECT id, owner_id, created_at FROM data_keys ORDER BY created_at'),
    };
  }

  /**
   * Opens `data-keys.db` under DATA_DIR and proves the master key is the one its keys were wrapped
   * with, so that a wrong KEY_ENCRYPTION_KEY stops start-up instead of the first decrypt.
   */
  static async open(dataDir: string, wrapper: KeyWrapper): Promise<DataKeyStore> {
    const store = new DataKeyStore(path.join(dataDir, 'data-keys.db'));
    const check = store.db.prepare<[], { wrapped: string }>('SELECT wrapped FROM master_key_check WHERE id = 1').get();
    if (!check) {
      store.db.prepare('INSERT INTO master_key_check (id, wrapped) VALUES (1, ?)').run(await wrapper.wrap(randomBytes(32), CHECK_CONTEXT));
      return store;
    }
    try {
      await wrapper.unwrap(check.wrapped, CHECK_CONTEXT);
    } catch {
      store.close();
      throw new ConfigError(
        'KEY_ENCRYPTION_KEY',
        `is not the master key the data in ${dataDir} was encrypted with (data-keys.db does not unwrap); start with the original key`,
      );
    }
    return store;
  }

  put(id: string, ownerId: string, wrapped: string, createdAt: string): void {
    this.stmt.put.run(id, ownerId, wrapped, createdAt);
  }

  /** null once the key was destroyed. */
  get(id: string): string | null {
    return this.stmt.get.get(id)?.wrapped ?? null;
  }

  destroy(id: string): void {
    this.stmt.destroy.run(id);
  }

  all(): DataKeyRow[] {
    return this.stmt.all.all();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
