import { Client, Pool, QueryResultRow } from 'pg';
import { ConcurrencyError, revisionMatches } from './concurrency.error';
import { AppendResult, EventBody, EventStore, ExpectedRevision, NewEvent, ReadAllOptions, ReplayOptions, StoredEvent, pagedBodies } from './event-store.port';
import { EventStoreUnavailableError, redactUrl } from './store-unavailable.error';
import { ChainedEvent, EventStoreObserver, PendingAppend, chainEvents, observedAppend, settle } from './group-commit';

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

/** Bound on one group commit (events), so that one transaction, which holds the append lock, stays short. */
const MAX_BATCH_EVENTS = 7500;
/** Streams whose head this process keeps as the guess for their next append (about 200 bytes each). */
const HEAD_GUESSES = 10_000;

/**
 * The append, server side, in one statement (so in one transaction without BEGIN/COMMIT): under the
 * append lock, it checks that each stream's head is the one the events were chained to (its latest
 * row, found through the (stream_id, revision) index with LIMIT 1, however long the stream), then
 * inserts the events in the given order and notifies followers of the last position. If any head
 * differs, it inserts nothing and answers every named stream's actual head (revision -1: none).
 */
const APPEND_FUNCTION = 'model_keys_append_v1';
const APPEND_FUNCTION_SQL = `
  CREATE OR REPLACE FUNCTION ${APPEND_FUNCTION}(
    head_stream_ids TEXT[], head_revisions INTEGER[], head_hashes TEXT[],
    event_stream_ids TEXT[], event_revisions INTEGER[], event_types TEXT[], event_data TEXT[], event_metadata TEXT[],
    event_recorded_at TEXT, event_prev_hashes TEXT[], event_hashes TEXT[]
  ) RETURNS TABLE (stale BOOLEAN, stream_id TEXT, revision INTEGER, hash TEXT, "position" BIGINT)
  LANGUAGE plpgsql AS $fn$
  #variable_conflict use_column
  BEGIN
    PERFORM pg_advisory_xact_lock(${APPEND_LOCK});
    IF EXISTS (
      SELECT 1 FROM unnest(head_stream_ids, head_revisions, head_hashes) AS guess(stream_id, revision, hash)
      LEFT JOIN LATERAL (SELECT e.revision, e.hash FROM events e WHERE e.stream_id = guess.stream_id ORDER BY e.revision DESC LIMIT 1) head ON TRUE
      WHERE COALESCE(head.revision, -1) <> guess.revision OR head.hash IS DISTINCT FROM guess.hash
    ) THEN
      RETURN QUERY
        SELECT TRUE, s.stream_id, COALESCE(head.revision, -1), head.hash, NULL::BIGINT
        FROM unnest(head_stream_ids) AS s(stream_id)
        LEFT JOIN LATERAL (SELECT e.revision, e.hash FROM events e WHERE e.stream_id = s.stream_id ORDER BY e.revision DESC LIMIT 1) head ON TRUE;
      RETURN;
    END IF;
    IF cardinality(event_stream_ids) > 0 THEN
      RETURN QUERY
        WITH inserted AS (
          INSERT INTO events (stream_id, revision, type, data, metadata, recorded_at, prev_hash, hash)
          SELECT e.stream_id, e.revision, e.type, e.data::JSON, e.metadata::JSON, event_recorded_at, e.prev_hash, e.hash
          FROM unnest(event_stream_ids, event_revisions, event_types, event_data, event_metadata, event_prev_hashes, event_hashes)
            WITH ORDINALITY AS e(stream_id, revision, type, data, metadata, prev_hash, hash, n)
          ORDER BY e.n
          RETURNING events.stream_id, events.revision, events.position
        )
        SELECT FALSE, i.stream_id, i.revision, NULL::TEXT, i.position FROM inserted i;
      PERFORM pg_notify('${CHANNEL}', currval(pg_get_serial_sequence('events', 'position'))::TEXT);
    END IF;
  END
  $fn$;
`;
const APPEND_CALL = `SELECT * FROM ${APPEND_FUNCTION}($1::TEXT[], $2::INTEGER[], $3::TEXT[], $4::TEXT[], $5::INTEGER[], $6::TEXT[], $7::TEXT[], $8::TEXT[], $9, $10::TEXT[], $11::TEXT[])`;

interface Head {
  readonly revision: number;
  readonly hash: string | null;
}

const NO_HEAD: Head = { revision: -1, hash: null };

interface AppendRow {
  stale: boolean;
  stream_id: string;
  revision: number;
  hash: string | null;
  position: string | null;
}

interface EventRowValues {
  readonly streamId: string;
  readonly event: ChainedEvent;
}

interface PlannedAppends {
  /** Per append, in order: its revisions, or its conflict. */
  readonly outcomes: ReadonlyArray<{ streamId: string; first: number; last: number } | ConcurrencyError>;
  readonly rows: readonly EventRowValues[];
  /** Each stream's head once the rows are in. */
  readonly heads: ReadonlyMap<string, Head>;
}

/** Checks each append against the heads (as left by the appends before it in the batch) and chains its events. */
function planAppends(batch: readonly PendingAppend[], start: ReadonlyMap<string, Head>): PlannedAppends {
  const heads = new Map(start);
  const rows: EventRowValues[] = [];
  const outcomes: PlannedAppends['outcomes'][number][] = [];
  for (const append of batch) {
    const head = heads.get(append.streamId) ?? NO_HEAD;
    if (!revisionMatches(append.expected, head.revision)) {
      outcomes.push(new ConcurrencyError(append.streamId, append.expected, head.revision));
      continue;
    }
    const chained = chainEvents(append.events, head.revision, head.hash);
    for (const event of chained) rows.push({ streamId: append.streamId, event });
    const tail = chained[chained.length - 1] ?? head;
    heads.set(append.streamId, { revision: tail.revision, hash: tail.hash });
    outcomes.push({ streamId: append.streamId, first: head.revision + 1, last: tail.revision });
  }
  return { outcomes, rows, heads };
}

function appendParameters(heads: ReadonlyMap<string, Head>, rows: readonly EventRowValues[]): unknown[] {
  const guesses = [...heads];
  return [
    guesses.map(([streamId]) => streamId),
    guesses.map(([, head]) => head.revision),
    guesses.map(([, head]) => head.hash),
    rows.map((row) => row.streamId),
    rows.map((row) => row.event.revision),
    rows.map((row) => row.event.type),
    rows.map((row) => row.event.data),
    rows.map((row) => row.event.metadata),
    new Date().toISOString(),
    rows.map((row) => row.event.prevHash),
    rows.map((row) => row.event.hash),
  ];
}

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
 * The lock is held inside the server for one statement (APPEND_FUNCTION_SQL), not across round trips
 * (but on the rare third attempt of a contended group commit), and measured against Emmett's filter it
 * costs nothing measurable (README, "Choosing a store"). LISTEN/NOTIFY wakes followers.
 */
export class PostgresEventStore implements EventStore {
  private readonly listeners = new Set<(position: number) => void>();
  private listener: Client | null = null;
  private closed = false;
  private pending: PendingAppend[] = [];
  private observer: EventStoreObserver | null = null;
  private flushing = false;
  /** The last head seen of recently used streams, most recent last: a guess, checked by the server. */
  private readonly heads = new Map<string, Head>();

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
        await client.query(APPEND_FUNCTION_SQL);
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
   * commit, as the SQLite adapter does): one statement, so one lock and one commit, for the lot. Each
   * append is still checked against its own expected revision, and a conflict fails only that append.
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

  /**
   * One group commit, in one round trip when this process guessed the heads right. The events are
   * chained in here (the hashes need each stream's head), so the server is told which heads they were
   * chained to, and under the append lock either inserts them or answers the actual heads. A wrong
   * guess (a stream this process has not seen, or one another process appended to) costs one more
   * round trip; a second wrong guess means contention, and the third attempt takes the lock first,
   * so it cannot be wrong again.
   */
  private async commit(batch: readonly PendingAppend[]): Promise<Array<AppendResult | ConcurrencyError>> {
    let heads = new Map<string, Head>();
    for (const append of batch) heads.set(append.streamId, this.heads.get(append.streamId) ?? NO_HEAD);
    const client = await this.pool.connect();
    let locked = false;
    try {
      for (let attempt = 1; ; attempt++) {
        if (attempt === 3) {
          // Constants only, so one round trip in the simple protocol.
          await client.query(`BEGIN; SELECT pg_advisory_xact_lock(${APPEND_LOCK})`);
          locked = true;
        }
        const planned = planAppends(batch, heads);
        const reply = await client.query<AppendRow>({ name: APPEND_FUNCTION, text: APPEND_CALL, values: appendParameters(heads, planned.rows) });
        if (reply.rows[0]?.stale) {
          heads = new Map(reply.rows.map((row) => [row.stream_id, { revision: row.revision, hash: row.hash }]));
          for (const [streamId, head] of heads) this.remember(streamId, head);
          continue;
        }
        if (locked) await client.query('COMMIT');
        for (const [streamId, head] of planned.heads) this.remember(streamId, head);
        const positions = new Map(reply.rows.map((row) => [`${row.revision}:${row.stream_id}`, Number(row.position)]));
        return planned.outcomes.map((outcome) => {
          if (outcome instanceof ConcurrencyError) return outcome;
          let lastPosition = 0;
          for (let r = outcome.first; r <= outcome.last; r++) lastPosition = Math.max(lastPosition, positions.get(`${r}:${outcome.streamId}`) ?? 0);
          return { nextExpectedRevision: outcome.last, lastPosition };
        });
      }
    } catch (error) {
      if (locked) await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /** Keeps a stream's head as the guess for its next append; the oldest guesses go first. */
  private remember(streamId: string, head: Head): void {
    this.heads.delete(streamId);
    this.heads.set(streamId, head);
    if (this.heads.size > HEAD_GUESSES) this.heads.delete(this.heads.keys().next().value as string);
  }

  async readStream(streamId: string): Promise<StoredEvent[]> {
    const result = await this.pool.query<EventRow>(`SELECT ${COLUMNS} FROM events WHERE stream_id = $1 ORDER BY revision`, [streamId]);
    const events = result.rows.map(toStoredEvent);
    // A command reads its stream, then appends to it: its append can then go in one round trip.
    const last = events[events.length - 1];
    if (last && last.revision > (this.heads.get(streamId)?.revision ?? -1)) this.remember(streamId, { revision: last.revision, hash: last.hash });
    return events;
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
