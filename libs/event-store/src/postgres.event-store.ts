import { Client, Pool, QueryResultRow } from 'pg';
import { ConcurrencyError, revisionMatches } from './concurrency.error';
import { AppendResult, EventBody, EventStore, ExpectedRevision, NewEvent, ReadAllOptions, ReplayOptions, StoredEvent, pagedBodies } from './event-store.port';
import { EventStoreUnavailableError, redactUrl } from './store-unavailable.error';
import { EventStoreObserver, PendingAppend, chainEvents, observedAppend, settle } from './group-commit';

interface BodyRow {
  position: string;
  stream_id: string;
  revision: number;
  type: string;
  data: unknown;
  recorded_at: string;
}

interface EventRow extends BodyRow {
  metadata: Record<string, unknown>;
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
const BODY_COLUMNS = 'position, stream_id, revision, type, data, recorded_at';
const CHANNEL = 'model_key_events';
/** Any constant will do: every append of every process takes this one lock. */
const APPEND_LOCK = 727_274_001;
const SCHEMA_LOCK = 727_274_002;

/** Bound on one group commit: PostgreSQL takes at most 65,535 parameters in a statement, 8 per event. */
const MAX_BATCH_EVENTS = 7500;

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
  private pending: PendingAppend[] = [];
  private observer: EventStoreObserver | null = null;
  private flushing = false;

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

  /**
   * Appends that arrive while a transaction is in flight wait and go together in the next one (group
   * commit, as the SQLite adapter does): one lock, one read of the heads, one INSERT and one commit for
   * the lot. Each append is still checked against its own expected revision, and a conflict fails only
   * that append.
   */
  observe(observer: EventStoreObserver): void {
    this.observer = observer;
  }

  appendToStream(streamId: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    return observedAppend(this.observer, new Promise((resolve, reject) => {
      this.pending.push({ streamId, events, expected, resolve, reject });
      if (!this.flushing) void this.flush();
    }));
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.pending.length > 0) {
        let take = 0;
        for (let events = 0; take < this.pending.length && (take === 0 || events + this.pending[take].events.length <= MAX_BATCH_EVENTS); take++) {
          events += this.pending[take].events.length;
        }
        const batch = this.pending.splice(0, take);
        try {
          const outcomes = await this.commit(batch);
          this.observer?.groupCommitted(batch.length);
          settle(batch, outcomes, this.listeners);
        } catch (error) {
          for (const append of batch) append.reject(error);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  private async commit(batch: readonly PendingAppend[]): Promise<Array<AppendResult | ConcurrencyError>> {
    const client = await this.pool.connect();
    try {
      // Constants only, so one round trip in the simple protocol.
      await client.query(`BEGIN; SELECT pg_advisory_xact_lock(${APPEND_LOCK})`);
      const heads = new Map<string, { revision: number; hash: string | null }>();
      const found = await client.query<{ stream_id: string; revision: number; hash: string }>(
        'SELECT DISTINCT ON (stream_id) stream_id, revision, hash FROM events WHERE stream_id = ANY($1::text[]) ORDER BY stream_id, revision DESC',
        [[...new Set(batch.map((a) => a.streamId))]],
      );
      for (const row of found.rows) heads.set(row.stream_id, { revision: row.revision, hash: row.hash });
      const recordedAt = new Date().toISOString();
      const values: unknown[] = [];
      const rows: string[] = [];
      const outcomes: Array<{ streamId: string; first: number; last: number } | ConcurrencyError> = [];
      for (const append of batch) {
        const head = heads.get(append.streamId) ?? { revision: -1, hash: null };
        if (!revisionMatches(append.expected, head.revision)) {
          outcomes.push(new ConcurrencyError(append.streamId, append.expected, head.revision));
          continue;
        }
        const chained = chainEvents(append.events, head.revision, head.hash);
        for (const event of chained) {
          const n = values.length;
          rows.push(`($${n + 1}, $${n + 2}, $${n + 3}, $${n + 4}::json, $${n + 5}::json, $${n + 6}, $${n + 7}, $${n + 8})`);
          values.push(append.streamId, event.revision, event.type, event.data, event.metadata, recordedAt, event.prevHash, event.hash);
        }
        const tail = chained[chained.length - 1] ?? { revision: head.revision, hash: head.hash };
        heads.set(append.streamId, { revision: tail.revision, hash: tail.hash });
        outcomes.push({ streamId: append.streamId, first: head.revision + 1, last: tail.revision });
      }
      const positions = new Map<string, number>();
      let last = 0;
      if (rows.length > 0) {
        const inserted = await client.query<{ position: string; stream_id: string; revision: number }>(
          `INSERT INTO events (stream_id, revision, type, data, metadata, recorded_at, prev_hash, hash) VALUES ${rows.join(', ')}
           RETURNING position, stream_id, revision`,
          values,
        );
        for (const row of inserted.rows) {
          positions.set(`${row.revision}:${row.stream_id}`, Number(row.position));
          last = Math.max(last, Number(row.position));
        }
      }
      // A number and a constant: safe to inline, and the notification goes out with the commit.
      await client.query(last > 0 ? `SELECT pg_notify('${CHANNEL}', '${last}'); COMMIT` : 'COMMIT');
      return outcomes.map((outcome) => {
        if (outcome instanceof ConcurrencyError) return outcome;
        let lastPosition = 0;
        for (let r = outcome.first; r <= outcome.last; r++) lastPosition = Math.max(lastPosition, positions.get(`${r}:${outcome.streamId}`) ?? 0);
        return { nextExpectedRevision: outcome.last, lastPosition };
      });
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async readStream(streamId: string): Promise<StoredEvent[]> {
    const result = await this.pool.query<EventRow>(`SELECT ${COLUMNS} FROM events WHERE stream_id = $1 ORDER BY revision`, [streamId]);
    return result.rows.map(toStoredEvent);
  }

  async readAll(afterPosition: number, options: ReadAllOptions = {}): Promise<StoredEvent[]> {
    return (await this.readInOrder<EventRow>(COLUMNS, afterPosition, options)).map(toStoredEvent);
  }

  async readBodies(afterPosition: number, options: ReadAllOptions = {}): Promise<EventBody[]> {
    return (await this.readInOrder<BodyRow>(BODY_COLUMNS, afterPosition, options)).map(toEventBody);
  }

  private async readInOrder<R extends QueryResultRow>(columns: string, afterPosition: number, options: ReadAllOptions): Promise<R[]> {
    const limit = options.limit ?? 1000;
    const result = options.streamPrefixes
      ? await this.pool.query<R>(
          `SELECT ${columns} FROM events WHERE position > $1 AND EXISTS (SELECT 1 FROM unnest($2::text[]) AS p WHERE left(stream_id, length(p)) = p)
           ORDER BY position LIMIT $3`,
          [afterPosition, options.streamPrefixes, limit],
        )
      : await this.pool.query<R>(`SELECT ${columns} FROM events WHERE position > $1 ORDER BY position LIMIT $2`, [afterPosition, limit]);
    return result.rows;
  }

  replayBodies(afterPosition: number, upTo: number, options?: ReplayOptions): AsyncIterable<EventBody[]> {
    return pagedBodies(this, afterPosition, upTo, options);
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
    // Let appends already queued reach the server before the pool goes.
    while (this.pending.length > 0 || this.flushing) await new Promise((r) => setTimeout(r, 5));
    this.listeners.clear();
    await this.listener?.end().catch(() => undefined);
    await this.pool.end();
  }
}

function toEventBody(row: BodyRow): EventBody {
  return { streamId: row.stream_id, revision: row.revision, position: Number(row.position), type: row.type, data: row.data, recordedAt: row.recorded_at };
}

function toStoredEvent(row: EventRow): StoredEvent {
  return { ...toEventBody(row), metadata: row.metadata, prevHash: row.prev_hash, hash: row.hash };
}
