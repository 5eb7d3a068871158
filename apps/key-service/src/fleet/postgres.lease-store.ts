import { Pool } from 'pg';
import { LeaseHolder, LeaseStore } from './lease-store';

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS leases (
    job           TEXT        PRIMARY KEY,
    holder        TEXT        NOT NULL,
    fencing_token BIGINT      NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL
  );
  CREATE TABLE IF NOT EXISTS job_checkpoints (
    name          TEXT   PRIMARY KEY,
    position      BIGINT NOT NULL,
    fencing_token BIGINT NOT NULL
  );
`;
/** Any constant will do: instances starting together create the tables one after the other. */
const SCHEMA_LOCK = 727_274_003;

/**
 * Leases as rows, one per job, timed by the server's clock (`clock_timestamp()`), so the instances'
 * clocks need not agree. Taking a lease is one statement: insert, or take over a row that has run out
 * (or is already ours), adding one to its fencing token when the holder changes. The checkpoints sit
 * beside them, and a checkpoint write carries the writer's token: it is refused unless that token still
 * holds the job's lease (the fence), so an old leader that was paused past its lease cannot move a
 * checkpoint back. A small pool of its own (2 connections): lease renewals must not queue behind appends.
 */
export class PostgresLeaseStore implements LeaseStore {
  readonly kind = 'postgres' as const;

  private constructor(private readonly pool: Pool) {}

  /** Connects and creates the tables if needed. Throws when the server cannot be reached. */
  static async connect(url: string): Promise<PostgresLeaseStore> {
    const pool = new Pool({ connectionString: url, max: 2, connectionTimeoutMillis: 5_000 });
    pool.on('error', () => undefined);
    const client = await pool.connect();
    try {
      await client.query('SELECT pg_advisory_lock($1)', [SCHEMA_LOCK]);
      try {
        await client.query(SCHEMA);
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [SCHEMA_LOCK]);
      }
    } finally {
      client.release();
    }
    return new PostgresLeaseStore(pool);
  }

  async acquire(job: string, holder: string, durationMs: number): Promise<number | null> {
    const { rows } = await this.pool.query<{ fencing_token: string }>(
      `INSERT INTO leases AS l (job, holder, fencing_token, expires_at)
         VALUES ($1, $2, 1, clock_timestamp() + $3 * interval '1 millisecond')
       ON CONFLICT (job) DO UPDATE
         SET holder = excluded.holder,
             fencing_token = CASE WHEN l.holder = excluded.holder THEN l.fencing_token ELSE l.fencing_token + 1 END,
             expires_at = excluded.expires_at
         WHERE l.holder = excluded.holder OR l.expires_at <= clock_timestamp()
       RETURNING fencing_token`,
      [job, holder, durationMs],
    );
    return rows.length === 0 ? null : Number(rows[0].fencing_token);
  }

  async renew(job: string, holder: string, fencingToken: number, durationMs: number): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `UPDATE leases SET expires_at = clock_timestamp() + $4 * interval '1 millisecond'
        WHERE job = $1 AND holder = $2 AND fencing_token = $3`,
      [job, holder, fencingToken, durationMs],
    );
    return rowCount === 1;
  }

  async release(job: string, holder: string, fencingToken: number): Promise<void> {
    await this.pool.query('UPDATE leases SET expires_at = clock_timestamp() WHERE job = $1 AND holder = $2 AND fencing_token = $3', [
      job,
      holder,
      fencingToken,
    ]);
  }

  async holder(job: string): Promise<LeaseHolder | null> {
    const { rows } = await this.pool.query<{ holder: string; fencing_token: string; remaining_ms: number }>(
      `SELECT holder, fencing_token, (EXTRACT(EPOCH FROM (expires_at - clock_timestamp())) * 1000)::float8 AS remaining_ms
         FROM leases WHERE job = $1`,
      [job],
    );
    if (rows.length === 0) return null;
    return { holder: rows[0].holder, fencingToken: Number(rows[0].fencing_token), remainingMs: rows[0].remaining_ms };
  }

  async loadCheckpoint(name: string): Promise<number | null> {
    const { rows } = await this.pool.query<{ position: string }>('SELECT position FROM job_checkpoints WHERE name = $1', [name]);
    return rows.length === 0 ? null : Number(rows[0].position);
  }

  async saveCheckpoint(name: string, position: number, job: string, fencingToken: number): Promise<boolean> {
    // One statement: the lease check and the write see the same snapshot, and the row lock on the lease
    // (FOR SHARE) keeps a takeover from committing between them.
    const { rowCount } = await this.pool.query(
      `WITH fence AS (
         SELECT 1 FROM leases WHERE job = $3 AND fencing_token = $4 AND expires_at > clock_timestamp() FOR SHARE
       )
       INSERT INTO job_checkpoints (name, position, fencing_token)
         SELECT $1, $2, $4 FROM fence
       ON CONFLICT (name) DO UPDATE SET position = excluded.position, fencing_token = excluded.fencing_token
         WHERE job_checkpoints.fencing_token <= excluded.fencing_token`,
      [name, position, job, fencingToken],
    );
    return rowCount === 1;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
