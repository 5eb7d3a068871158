import { Client, Pool, PoolClient } from 'pg';
import { ConcurrencyError, revisionMatches } from './concurrency.error';
import { eventHash } from './event-hash';
import { AppendResult, EventStore, ExpectedRevision, NewEvent, ReadAllOptions, StoredEvent } from './event-store.port';
import { EventStoreUnavailableError, redactUrl } from './store-unavailable.error';

interface EventRow {
  position: string;
  stream_id: string;
  revision: number;
  type: string;
  data: unknown;
  metadata: Record<string, unknown>;
  recorded_at: string;
  prev_hash: string | null;
  hash: string;
}

/** `json`, not `jsonb`: the text is kept as written, so what a reader hashes is what the writer hashed. */
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS events (
    position    BIGSERIAL PRIMARY KEY,
    stream_id   TEXT    NOT NULL,
    revision    INTEGER NOT NULL,
    type        TEXT    NOT NULL,
    data        JSON    NOT NULL,
    metadata    JSON    NOT NULL,
    recorded_at TEXT    NOT NULL,
    prev_hash   TEXT,
    hash        TEXT    NOT NULL,
    UNIQUE (stream_id, revision)
  );
`;

const COLUMNS = 'position, stream_id, revision, type, data, metadata, recorded_at, prev_hash, hash';
const CHANNEL = 'model_key_events';
/** Any constant will do: every append of every process takes this one lock. */
const APPEND_LOCK = 727_274_001;
const SCHEMA_LOCK = 727_274_002;

export interface PostgresEventStoreOptions {
  readonly poolSize?: number;
}

/**
 * The server store. Global order: appends are serialized by one transaction-scoped advisory lock,
 * taken before the position is drawn from the sequence and released only after the commit is
 * visible. So positions become visible in the order they were drawn, and a reader that sees position
 * N has already been able to see every position below it: no follower skips an event that commits
 * late, the known trap of sequence positions. The cost is one append at a time across all writers
 * (each still its own short transaction); the alternative, a transaction-id snapshot filter on reads
 * (Emmett's), keeps appends parallel but makes every reader lag behind the oldest open transaction.
 * At this service's write rates, the simpler proof was chosen. LISTEN/NOTIFY wakes followers.
 */
export class PostgresEventStore implements EventStore {
  private readonly listeners = new Set<(position: number) => void>();
  private listener: Client | null = null;
  private closed = false;

  private constructor(
    private readonly pool: Pool,
    private readonly url: string,
  ) {}

  /** Connects, creates the table if needed and starts listening; an unreachable server is a clear error. */
  static async connect(url: string, options: PostgresEventStoreOptions = {}): Promise<PostgresEventStore> {
    const pool = new Pool({ connectionString: url, max: options.poolSize ?? 10, connectionTimeoutMillis: 10_000 });
    // An idle client that loses its server must not take the process down.
    pool.on('error', () => undefined);
    const store = new PostgresEventStore(pool, url);
    try {
      const client = await pool.connect();
      try {
        await client.query('SELECT pg_advisory_lock($1)', [SCHEMA_LOCK]);
        await client.query(SCHEMA);
        await client.query('SELECT pg_advisory_unlock($1)', [SCHEMA_LOCK]);
      } finally {
        client.release();
      }
      await store.listen();
    } catch (error) {
      await pool.end().catch(() => undefined);
      const why = (error as { code?: string }).code ?? (error as Error).message;
      throw new EventStoreUnavailableError(`EVENT_STORE=postgres: cannot use PostgreSQL at DATABASE_URL=${redactUrl(url)}: ${why}`);
    }
    return store;
  }

  private async listen(): Promise<void> {
    const client = new Client({ connectionString: this.url });
    client.on('error', () => undefined);
    client.on('notification', (message) => {
      const position = Number(message.payload);
      if (Number.isFinite(position)) for (const listener of this.listeners) listener(position);
    });
    // A lost listening connection only slows followers down to their polling; try to get it back.
    client.on('end', () => {
      this.listener = null;
      if (!this.closed) setTimeout(() => void this.listen().catch(() => undefined), 1000);
    });
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    this.listener = client;
  }

  async appendToStream(streamId: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [APPEND_LOCK]);
      const head = await client.query<{ revision: number; hash: string }>(
        'SELECT revision, hash FROM events WHERE stream_id = $1 ORDER BY revision DESC LIMIT 1',
        [streamId],
      );
      const current = head.rows[0]?.revision ?? -1;
      if (!revisionMatches(expected, current)) {
        await client.query('ROLLBACK');
        throw new ConcurrencyError(streamId, expected, current);
      }
      const result = await this.insert(client, streamId, events, current, head.rows[0]?.hash ?? null);
      await client.query('SELECT pg_notify($1, $2)', [CHANNEL, String(result.lastPosition)]);
      await client.query('COMMIT');
      for (const listener of this.listeners) listener(result.lastPosition);
      return result;
    } catch (error) {
      if (!(error instanceof ConcurrencyError)) await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  private async insert(client: PoolClient, streamId: string, events: readonly NewEvent[], current: number, headHash: string | null) {
    const recordedAt = new Date().toISOString();
    const values: unknown[] = [];
    const rows: string[] = [];
    let revision = current;
    let prevHash = headHash;
    for (const event of events) {
      revision += 1;
      const data = JSON.stringify(event.data ?? null);
      const metadata = JSON.stringify(event.metadata ?? {});
      const hash = eventHash(prevHash, { type: event.type, data: JSON.parse(data), metadata: JSON.parse(metadata), revision });
      const n = values.length;
      rows.push(`($${n + 1}, $${n + 2}, $${n + 3}, $${n + 4}::json, $${n + 5}::json, $${n + 6}, $${n + 7}, $${n + 8})`);
      values.push(streamId, revision, event.type, data, metadata, recordedAt, prevHash, hash);
      prevHash = hash;
    }
    const inserted = await client.query<{ position: string }>(
      `INSERT INTO events (stream_id, revision, type, data, metadata, recorded_at, prev_hash, hash) VALUES ${rows.join(', ')} RETURNING position`,
      values,
    );
    const lastPosition = Math.max(...inserted.rows.map((r) => Number(r.position)));
    return { nextExpectedRevision: revision, lastPosition };
  }

  async readStream(streamId: string): Promise<StoredEvent[]> {
    const result = await this.pool.query<EventRow>(`SELECT ${COLUMNS} FROM events WHERE stream_id = $1 ORDER BY revision`, [streamId]);
    return result.rows.map(toStoredEvent);
  }

  async readAll(afterPosition: number, options: ReadAllOptions = {}): Promise<StoredEvent[]> {
    const limit = options.limit ?? 1000;
    const result = options.streamPrefix
      ? await this.pool.query<EventRow>(
          `SELECT ${COLUMNS} FROM events WHERE position > $1 AND left(stream_id, length($2)) = $2 ORDER BY position LIMIT $3`,
          [afterPosition, options.streamPrefix, limit],
        )
      : await this.pool.query<EventRow>(`SELECT ${COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2`, [afterPosition, limit]);
    return result.rows.map(toStoredEvent);
  }

  async readPositions(positions: readonly number[]): Promise<StoredEvent[]> {
    if (positions.length === 0) return [];
    const result = await this.pool.query<EventRow>(`SELECT ${COLUMNS} FROM events WHERE position = ANY($1::bigint[]) ORDER BY position`, [
      positions.map(String),
    ]);
    return result.rows.map(toStoredEvent);
  }

  async headPosition(): Promise<number> {
    const result = await this.pool.query<{ head: string | null }>('SELECT MAX(position) AS head FROM events');
    return Number(result.rows[0]?.head ?? 0);
  }

  onAppended(listener: (position: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    await this.listener?.end().catch(() => undefined);
    await this.pool.end();
  }
}

function toStoredEvent(row: EventRow): StoredEvent {
  return {
    streamId: row.stream_id,
    revision: row.revision,
    position: Number(row.position),
    type: row.type,
    data: row.data,
    metadata: row.metadata,
    recordedAt: row.recorded_at,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}
