import { Pool } from 'pg';
import { redactUrl } from '@lib/event-store';
import { DataKeyRow, DataKeyStore, proveMasterKey } from './data-key.store';
import { KeyWrapper } from './key-wrapper.port';

/**
 * With EVENT_STORE=postgres: the data keys in the same database as the events (their own tables, not
 * the log), so that every instance of the service can decrypt what any of them encrypted, and a
 * delete on one is a delete for all. PostgreSQL keeps a deleted row's bytes until VACUUM reuses the
 * space; what lingers is wrapped under the master key, which is the guard that matters.
 */
/** Any constant will do: instances starting together create the tables one after the other. */
const SCHEMA_LOCK = 727_274_005;

export class PostgresDataKeyStore implements DataKeyStore {
  private constructor(private readonly pool: Pool) {}

  static async open(url: string, wrapper: KeyWrapper): Promise<PostgresDataKeyStore> {
    const pool = new Pool({ connectionString: url, max: 4 });
    pool.on('error', () => undefined);
    const store = new PostgresDataKeyStore(pool);
    try {
      // Instances starting together on an empty database: one creates the tables and stores the master key's
      // check while the others wait (CREATE TABLE IF NOT EXISTS races otherwise, and two different master
      // keys could both pass an empty check).
      const client = await pool.connect();
      try {
        await client.query('SELECT pg_advisory_lock($1)', [SCHEMA_LOCK]);
        try {
          await client.query(`
            CREATE TABLE IF NOT EXISTS data_keys (id TEXT PRIMARY KEY, owner_id TEXT NOT NULL, wrapped TEXT NOT NULL, created_at TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS data_keys_by_owner ON data_keys (owner_id);
            CREATE TABLE IF NOT EXISTS master_key_check (id INTEGER PRIMARY KEY CHECK (id = 1), wrapped TEXT NOT NULL);
          `);
          const check = await client.query<{ wrapped: string }>('SELECT wrapped FROM master_key_check WHERE id = 1');
          await proveMasterKey(
            wrapper,
            check.rows[0]?.wrapped,
            async (wrapped) => void (await client.query('INSERT INTO master_key_check (id, wrapped) VALUES (1, $1) ON CONFLICT (id) DO NOTHING', [wrapped])),
            `the database at DATABASE_URL=${redactUrl(url)}`,
          );
        } finally {
          await client.query('SELECT pg_advisory_unlock($1)', [SCHEMA_LOCK]).catch(() => undefined);
        }
      } finally {
        client.release();
      }
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw error;
    }
    return store;
  }

  async put(id: string, ownerId: string, wrapped: string, createdAt: string): Promise<void> {
    await this.pool.query('INSERT INTO data_keys (id, owner_id, wrapped, created_at) VALUES ($1, $2, $3, $4)', [id, ownerId, wrapped, createdAt]);
  }

  async get(id: string): Promise<string | null> {
    return (await this.pool.query<{ wrapped: string }>('SELECT wrapped FROM data_keys WHERE id = $1', [id])).rows[0]?.wrapped ?? null;
  }

  async destroy(id: string): Promise<void> {
    await this.pool.query('DELETE FROM data_keys WHERE id = $1', [id]);
  }

  async all(): Promise<DataKeyRow[]> {
    return (await this.pool.query<DataKeyRow>('SELECT id, owner_id, created_at FROM data_keys ORDER BY created_at')).rows;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
