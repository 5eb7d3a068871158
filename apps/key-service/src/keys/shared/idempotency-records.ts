import type Database from 'better-sqlite3';
import * as path from 'node:path';
import type { Pool } from 'pg';
import { openDerivedSqliteFile } from '../../common/sqlite-file';
import { EventStoreUnavailableError, redactUrl } from '@lib/event-store';

/** The IdempotencyRecords of the process: PostgreSQL with EVENT_STORE=postgres, else DATA_DIR/idempotency.db. */
export const IDEMPOTENCY_RECORDS = Symbol('IDEMPOTENCY_RECORDS');

/** One Idempotency-Key's record: the request's hash, the answer once there is one (sealed), and when it began. */
export interface IdempotencyRecord {
  readonly request_hash: string;
  /** The first answer, encrypted (SecretBox); null while the first attempt runs, or after it died. */
  readonly response: string | null;
  /** Epoch ms: when the record's window began (its seed derives from it). */
  readonly created_at: number;
}

/**
 * Where the idempotency records live: never in the event log. Ids are SHA-256 hex digests of
 * (team, user, operation, key); times are epoch ms.
 */
export interface IdempotencyRecords {
  get(id: string): Promise<IdempotencyRecord | undefined>;
  /**
   * Starts a record for a first attempt: inserts it, or replaces one whose window began at or before
   * `expiredBefore`. Returns false when a live record is there already (another attempt, maybe on another
   * instance, claimed it first).
   */
  claim(id: string, requestHash: string, now: number, expiredBefore: number): Promise<boolean>;
  /** Stores the sealed first answer. */
  complete(id: string, response: string): Promise<void>;
  /** Drops the record of an attempt that failed, so a retry runs again. */
  remove(id: string): Promise<void>;
  /** Deletes the records whose window began at or before `before`. */
  purge(before: number): Promise<void>;
  close(): Promise<void>;
}

/** DATA_DIR/idempotency.db: each instance's own (the embedded default). */
export class SqliteIdempotencyRecords implements IdempotencyRecords {
  private constructor(private readonly db: Database.Database) {}

  /** Opens the file; a damaged one is moved aside and started anew (its replays are lost, never a key). */
  static open(dataDir: string, logError: (line: string) => void): SqliteIdempotencyRecords {
    // Not derived from the log, but only a convenience: losing it costs the replays of the last window's
    // answers (a retry runs again), never a key. So a damaged file is moved aside, not a reason to stop.
    const db = openDerivedSqliteFile(
      path.join(dataDir, 'idempotency.db'),
      (db) => {
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = FULL');
        db.pragma('busy_timeout = 5000');
        db.exec(`CREATE TABLE IF NOT EXISTS idempotency (
          id TEXT PRIMARY KEY, request_hash TEXT NOT NULL, response TEXT, created_at INTEGER NOT NULL)`);
      },
      logError,
      'answers kept for replay (up to 24 hours) are gone: a retry of such a request runs again instead of being replayed',
    );
    return new SqliteIdempotencyRecords(db);
  }

  async get(id: string): Promise<IdempotencyRecord | undefined> {
    return this.db.prepare('SELECT request_hash, response, created_at FROM idempotency WHERE id = ?').get(id) as IdempotencyRecord | undefined;
  }

  async claim(id: string, requestHash: string, now: number, expiredBefore: number): Promise<boolean> {
    const result = this.db
      .prepare(
        'INSERT INTO idempotency (id, request_hash, response, created_at) VALUES (?, ?, NULL, ?) ' +
          'ON CONFLICT(id) DO UPDATE SET request_hash = excluded.request_hash, response = NULL, created_at = excluded.created_at ' +
          'WHERE idempotency.created_at <= ?',
      )
      .run(id, requestHash, now, expiredBefore);
    return result.changes === 1;
  }

  async complete(id: string, response: string): Promise<void> {
    this.db.prepare('UPDATE idempotency SET response = ? WHERE id = ?').run(response, id);
  }

  async remove(id: string): Promise<void> {
    this.db.prepare('DELETE FROM idempotency WHERE id = ?').run(id);
  }

  async purge(before: number): Promise<void> {
    this.db.prepare('DELETE FROM idempotency WHERE created_at <= ?').run(before);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

/**
 * A table beside the events in PostgreSQL (`idempotency_records`), so a retry that a load balancer sends
 * to another instance replays the first answer too. Still not the log: rows are deleted after the window.
 */
export class PostgresIdempotencyRecords implements IdempotencyRecords {
  private constructor(private readonly pool: Pool) {}

  /**
   * Connects (a pool of 4) and creates the table if needed.
   * Throws EventStoreUnavailableError naming DATABASE_URL (its password redacted) when the server cannot be reached or refuses.
   */
  static async connect(url: string): Promise<PostgresIdempotencyRecords> {
    const { Pool } = await import('pg');
    const pool = new Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 10_000 });
    pool.on('error', () => undefined);
    try {
      const client = await pool.connect();
      try {
        // Instances starting together create the table one after the other (CREATE IF NOT EXISTS races otherwise).
        await client.query('SELECT pg_advisory_lock(727274004)');
        try {
          await client.query(`CREATE TABLE IF NOT EXISTS idempotency_records (
            id TEXT PRIMARY KEY, request_hash TEXT NOT NULL, response TEXT, created_at BIGINT NOT NULL)`);
        } finally {
          await client.query('SELECT pg_advisory_unlock(727274004)');
        }
      } finally {
        client.release();
      }
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw new EventStoreUnavailableError(
        `EVENT_STORE=postgres: cannot keep idempotency records in PostgreSQL at DATABASE_URL=${redactUrl(url)}: ${(error as Error).message}`,
      );
    }
    return new PostgresIdempotencyRecords(pool);
  }

  async get(id: string): Promise<IdempotencyRecord | undefined> {
    const { rows } = await this.pool.query<{ request_hash: string; response: string | null; created_at: string }>(
      'SELECT request_hash, response, created_at FROM idempotency_records WHERE id = $1',
      [id],
    );
    return rows.length === 0 ? undefined : { ...rows[0], created_at: Number(rows[0].created_at) };
  }

  async claim(id: string, requestHash: string, now: number, expiredBefore: number): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `INSERT INTO idempotency_records AS r (id, request_hash, response, created_at) VALUES ($1, $2, NULL, $3)
       ON CONFLICT (id) DO UPDATE SET request_hash = excluded.request_hash, response = NULL, created_at = excluded.created_at
         WHERE r.created_at <= $4`,
      [id, requestHash, now, expiredBefore],
    );
    return rowCount === 1;
  }

  async complete(id: string, response: string): Promise<void> {
    await this.pool.query('UPDATE idempotency_records SET response = $2 WHERE id = $1', [id, response]);
  }

  async remove(id: string): Promise<void> {
    await this.pool.query('DELETE FROM idempotency_records WHERE id = $1', [id]);
  }

  async purge(before: number): Promise<void> {
    await this.pool.query('DELETE FROM idempotency_records WHERE created_at <= $1', [before]);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
