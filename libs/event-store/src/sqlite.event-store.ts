import Database from 'better-sqlite3';
import { ConcurrencyError, revisionMatches } from './concurrency.error';
import { AppendResult, EventStore, ExpectedRevision, NewEvent, ReadAllOptions, StoredEvent } from './event-store.port';

interface PendingAppend {
  readonly streamId: string;
  readonly events: readonly NewEvent[];
  readonly expected: ExpectedRevision;
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: unknown) => void;
}

interface EventRow {
  position: number;
  stream_id: string;
  revision: number;
  type: string;
  data: string;
  metadata: string;
  recorded_at: string;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS events (
    position    INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_id   TEXT    NOT NULL,
    revision    INTEGER NOT NULL,
    type        TEXT    NOT NULL,
    data        TEXT    NOT NULL,
    metadata    TEXT    NOT NULL,
    recorded_at TEXT    NOT NULL,
    UNIQUE (stream_id, revision)
  );
`;

/**
 * The embedded default. WAL with synchronous=FULL: a commit is on disk before its promise resolves.
 * Appends that arrive while the event loop is busy are committed together in one transaction
 * (group commit), each still checked against its own expected revision; a conflict fails only that append.
 */
export class SqliteEventStore implements EventStore {
  private readonly db: Database.Database;
  private readonly listeners = new Set<(position: number) => void>();
  private pending: PendingAppend[] = [];
  private flushScheduled = false;
  private readonly stmt: {
    currentRevision: Database.Statement<[string], { revision: number | null }>;
    insert: Database.Statement<[string, number, string, string, string, string]>;
    readStream: Database.Statement<[string], EventRow>;
    readAll: Database.Statement<[number, number], EventRow>;
    readAllPrefix: Database.Statement<[{ after: number; prefix: string; limit: number }], EventRow>;
    head: Database.Statement<[], { head: number | null }>;
  };

  constructor(readonly file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    this.stmt = {
      currentRevision: this.db.prepare('SELECT MAX(revision) AS revision FROM events WHERE stream_id = ?'),
      insert: this.db.prepare(
        'INSERT INTO events (stream_id, revision, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      readStream: this.db.prepare('SELECT * FROM events WHERE stream_id = ? ORDER BY revision'),
      readAll: this.db.prepare('SELECT * FROM events WHERE position > ? ORDER BY position LIMIT ?'),
      readAllPrefix: this.db.prepare(
        'SELECT * FROM events WHERE position > @after AND substr(stream_id, 1, length(@prefix)) = @prefix ORDER BY position LIMIT @limit',
      ),
      head: this.db.prepare('SELECT MAX(position) AS head FROM events'),
    };
  }

  appendToStream(streamId: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      this.pending.push({ streamId, events, expected, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.pending;
    this.pending = [];
    const outcomes: Array<AppendResult | ConcurrencyError> = [];
    const recordedAt = new Date().toISOString();
    try {
      this.db
        .transaction(() => {
          for (const append of batch) outcomes.push(this.appendInTransaction(append, recordedAt));
        })
        .immediate();
    } catch (error) {
      for (const append of batch) append.reject(error);
      return;
    }
    let last = 0;
    batch.forEach((append, i) => {
      const outcome = outcomes[i];
      if (outcome instanceof ConcurrencyError) append.reject(outcome);
      else {
        last = Math.max(last, outcome.lastPosition);
        append.resolve(outcome);
      }
    });
    if (last > 0) for (const listener of this.listeners) listener(last);
  }

  private appendInTransaction(append: PendingAppend, recordedAt: string): AppendResult | ConcurrencyError {
    const current = this.stmt.currentRevision.get(append.streamId)?.revision ?? -1;
    if (!revisionMatches(append.expected, current)) {
      return new ConcurrencyError(append.streamId, append.expected, current);
    }
    let revision = current;
    let lastPosition = 0;
    for (const event of append.events) {
      revision += 1;
      const info = this.stmt.insert.run(
        append.streamId,
        revision,
        event.type,
        JSON.stringify(event.data),
        JSON.stringify(event.metadata ?? {}),
        recordedAt,
      );
      lastPosition = Number(info.lastInsertRowid);
    }
    return { nextExpectedRevision: revision, lastPosition };
  }

  async readStream(streamId: string): Promise<StoredEvent[]> {
    return this.stmt.readStream.all(streamId).map(toStoredEvent);
  }

  async readAll(afterPosition: number, options: ReadAllOptions = {}): Promise<StoredEvent[]> {
    const limit = options.limit ?? 1000;
    const rows = options.streamPrefix
      ? this.stmt.readAllPrefix.all({ after: afterPosition, prefix: options.streamPrefix, limit })
      : this.stmt.readAll.all(afterPosition, limit);
    return rows.map(toStoredEvent);
  }

  async headPosition(): Promise<number> {
    return this.stmt.head.get()?.head ?? 0;
  }

  onAppended(listener: (position: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    // Let appends already queued reach the disk before the handle goes.
    while (this.pending.length > 0 || this.flushScheduled) await new Promise((r) => setImmediate(r));
    this.listeners.clear();
    if (this.db.open) this.db.close();
  }
}

function toStoredEvent(row: EventRow): StoredEvent {
  return {
    streamId: row.stream_id,
    revision: row.revision,
    position: row.position,
    type: row.type,
    data: JSON.parse(row.data),
    metadata: JSON.parse(row.metadata),
    recordedAt: row.recorded_at,
  };
}
