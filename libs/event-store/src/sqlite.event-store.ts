import Database from 'better-sqlite3';
import { ConcurrencyError, revisionMatches } from './concurrency.error';
import { eventHash } from './event-hash';
import { Worker } from 'node:worker_threads';
import { AppendResult, EventBody, EventStore, ExpectedRevision, NewEvent, ReadAllOptions, ReplayOptions, StoredEvent } from './event-store.port';
import { EventStoreObserver, PendingAppend, chainEvents, observedAppend, settle } from './group-commit';
import { EventStoreUnavailableError, StoreUnavailableError, isCorruptFileError, storageFaultOf } from './store-unavailable.error';

interface EventRow {
  position: number;
  stream_id: string;
  revision: number;
  type: string;
  data: string;
  metadata: string;
  recorded_at: string;
  prev_hash: string | null;
  hash: string;
}

/** A row as an array, in COLUMNS order: better-sqlite3 builds arrays far faster than keyed objects. */
type RawEventRow = [number, string, number, string, string, string, string, string | null, string];
const COLUMNS = 'position, stream_id, revision, type, data, metadata, recorded_at, prev_hash, hash';

interface Statements {
  streamHead: Database.Statement<[string], { revision: number; hash: string }>;
  insert: Database.Statement<[string, number, string, string, string, string, string | null, string]>;
  readStream: Database.Statement<[string], RawEventRow>;
  readAll: Database.Statement<[number, number], RawEventRow>;
  readPositions: Database.Statement<[string], RawEventRow>;
  head: Database.Statement<[], { head: number | null }>;
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
    prev_hash   TEXT,
    hash        TEXT,
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
  private observer: EventStoreObserver | null = null;
  private flushScheduled = false;
  private readonly prefixStatements = new Map<number, Database.Statement<unknown[], RawEventRow>>();
  private readonly bodyStatements = new Map<number | 'all', Database.Statement<unknown[], [string | null, number | null]>>();
  private readonly stmt: Statements;

  constructor(readonly file: string) {
    try {
      this.db = new Database(file);
    } catch (error) {
      throw isCorruptFileError(error) ? corruptLog(file, error) : error;
    }
    try {
      this.stmt = this.openAndPrepare();
    } catch (error) {
      this.db.close();
      throw isCorruptFileError(error) ? corruptLog(file, error) : error;
    }
  }

  /**
   * The pragmas, the schema and the statements, then the head read once: a damaged header or schema
   * fails here, at start-up, with the file named (see corruptLog), rather than at a first append.
   */
  private openAndPrepare(): Statements {
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    this.chainEventsStoredBeforeHashing();
    const stmt: Statements = {
      streamHead: this.db.prepare('SELECT revision, hash FROM events WHERE stream_id = ? ORDER BY revision DESC LIMIT 1'),
      insert: this.db.prepare(
        'INSERT INTO events (stream_id, revision, type, data, metadata, recorded_at, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      readStream: this.db.prepare<[string], RawEventRow>(`SELECT ${COLUMNS} FROM events WHERE stream_id = ? ORDER BY revision`).raw(),
      readAll: this.db.prepare<[number, number], RawEventRow>(`SELECT ${COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?`).raw(),
      readPositions: this.db
        .prepare<[string], RawEventRow>(`SELECT ${COLUMNS} FROM events WHERE position IN (SELECT value FROM json_each(?)) ORDER BY position`)
        .raw(),
      head: this.db.prepare('SELECT MAX(position) AS head FROM events'),
    };
    stmt.head.get();
    return stmt;
  }

  /** A file written before events were hash-chained gets the columns and its chains, once. */
  private chainEventsStoredBeforeHashing(): void {
    const columns = this.db.prepare<[], { name: string }>('PRAGMA table_info(events)').all().map((c) => c.name);
    if (!columns.includes('hash')) {
      this.db.exec('ALTER TABLE events ADD COLUMN prev_hash TEXT; ALTER TABLE events ADD COLUMN hash TEXT;');
    }
    // user_version 1: every event is chained; a file at 1 skips the scan below (a full read of the log).
    if ((this.db.pragma('user_version', { simple: true }) as number) >= 1) return;
    const unchained = this.db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM events WHERE hash IS NULL').get()?.n ?? 0;
    if (unchained === 0) {
      this.db.pragma('user_version = 1');
      return;
    }
    const rows = this.db.prepare<[], EventRow>('SELECT * FROM events ORDER BY stream_id, revision').all();
    const update = this.db.prepare<[string | null, string, number]>('UPDATE events SET prev_hash = ?, hash = ? WHERE position = ?');
    this.db.transaction(() => {
      let stream = '';
      let prev: string | null = null;
      for (const row of rows) {
        if (row.stream_id !== stream) {
          stream = row.stream_id;
          prev = null;
        }
        const hash = eventHash(prev, { type: row.type, data: JSON.parse(row.data), metadata: JSON.parse(row.metadata), revision: row.revision });
        update.run(prev, hash, row.position);
        prev = hash;
      }
      this.db.pragma('user_version = 1');
    })();
  }

  observe(observer: EventStoreObserver): void {
    this.observer = observer;
  }

  appendToStream(streamId: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    return observedAppend(this.observer, new Promise((resolve, reject) => {
      this.pending.push({ streamId, events, expected, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    }));
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
      // The whole batch was rolled back: every append in it is told, none is left waiting.
      const reason = storageFaultOf(error);
      const failure = reason === null ? error : new StoreUnavailableError(reason, `the event store cannot write: ${reason}`);
      for (const append of batch) append.reject(failure);
      return;
    }
    this.observer?.groupCommitted(batch.length);
    settle(batch, outcomes, this.listeners);
  }

  private appendInTransaction(append: PendingAppend, recordedAt: string): AppendResult | ConcurrencyError {
    const head = this.stmt.streamHead.get(append.streamId);
    const current = head?.revision ?? -1;
    if (!revisionMatches(append.expected, current)) {
      return new ConcurrencyError(append.streamId, append.expected, current);
    }
    let revision = current;
    let lastPosition = 0;
    for (const event of chainEvents(append.events, current, head?.hash ?? null)) {
      const info = this.stmt.insert.run(append.streamId, event.revision, event.type, event.data, event.metadata, recordedAt, event.prevHash, event.hash);
      lastPosition = Number(info.lastInsertRowid);
      revision = event.revision;
    }
    return { nextExpectedRevision: revision, lastPosition };
  }

  async readStream(streamId: string): Promise<StoredEvent[]> {
    return this.stmt.readStream.all(streamId).map(toStoredEvent);
  }

  async readAll(afterPosition: number, options: ReadAllOptions = {}): Promise<StoredEvent[]> {
    const limit = options.limit ?? 1000;
    const prefixes = options.streamPrefixes;
    const rows = prefixes ? this.prefixed(prefixes.length).all(afterPosition, ...prefixes.flatMap((p) => [p, p]), limit) : this.stmt.readAll.all(afterPosition, limit);
    return rows.map(toStoredEvent);
  }

  /** One statement per number of prefixes, each a plain comparison SQLite does in C. */
  private prefixed(count: number): Database.Statement<unknown[], RawEventRow> {
    let statement = this.prefixStatements.get(count);
    if (!statement) {
      statement = this.db.prepare<unknown[], RawEventRow>(`SELECT ${COLUMNS} FROM events WHERE position > ? AND ${prefixMatch(count)} ORDER BY position LIMIT ?`).raw();
      this.prefixStatements.set(count, statement);
    }
    return statement;
  }

  /** See bodyPageSql: one JSON.parse per page instead of a string per column and a parse per event. */
  async readBodies(afterPosition: number, options: ReadAllOptions = {}): Promise<EventBody[]> {
    const prefixes = options.streamPrefixes;
    const key = prefixes ? prefixes.length : 'all';
    let statement = this.bodyStatements.get(key);
    if (!statement) {
      statement = this.db.prepare<unknown[], [string | null, number | null]>(bodyPageSql(prefixes?.length)).raw();
      this.bodyStatements.set(key, statement);
    }
    const [page] = statement.get(afterPosition, Number.MAX_SAFE_INTEGER, ...prefixParameters(prefixes), options.limit ?? 1000)!;
    return page === null ? [] : bodiesOfPage(page);
  }

  /**
   * A worker thread reads the pages (SQLite's part of the work, in C) a few pages ahead of the caller,
   * who is left only the JSON.parse of each: on two cores, the read overlaps the caller's work.
   */
  async *replayBodies(afterPosition: number, upTo: number, options: ReplayOptions = {}): AsyncIterable<EventBody[]> {
    const reader = new Worker(PAGE_READER_SOURCE, {
      eval: true,
      workerData: {
        driver: require.resolve('better-sqlite3'),
        file: this.file,
        mmapBytes: REPLAY_MMAP_BYTES,
        sql: bodyPageSql(options.streamPrefixes?.length),
        parameters: prefixParameters(options.streamPrefixes),
        after: afterPosition,
        upTo,
        pageSize: options.pageSize ?? 10_000,
        pageChars: REPLAY_PAGE_CHARS,
        ahead: 3,
      },
    });
    const pages: Array<{ page: string | null; error?: Error }> = [];
    let wake: (() => void) | null = null;
    const arrived = (entry: { page: string | null; error?: Error }) => {
      pages.push(entry);
      wake?.();
    };
    reader.on('message', (page: string | null) => arrived({ page }));
    reader.on('error', (error) => arrived({ page: null, error }));
    try {
      for (;;) {
        while (pages.length === 0) await new Promise<void>((resolve) => (wake = resolve));
        const { page, error } = pages.shift()!;
        if (error) throw error;
        if (page === null) return;
        reader.postMessage('next');
        yield bodiesOfPage(page);
      }
    } finally {
      await reader.terminate();
    }
  }

  async readPositions(positions: readonly number[]): Promise<StoredEvent[]> {
    if (positions.length === 0) return [];
    return this.stmt.readPositions.all(JSON.stringify(positions)).map(toStoredEvent);
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

/** One line for the operator: the event log is the source of everything else, so nothing rebuilds it. */
function corruptLog(file: string, error: unknown): EventStoreUnavailableError {
  return new EventStoreUnavailableError(
    `${file} is corrupt (${(error as Error).message}). It is the event log, which nothing can rebuild: ` +
      'stop the service, keep the file for inspection, restore it (with its -wal file) from a backup, then run keyctl audit verify',
  );
}

/**
 * A page of bodies as the elements of one JSON array that SQLite writes (bodiesOfPage adds the
 * brackets, sparing SQLite two more copies of the page): the stored data is JSON already, so it is
 * pasted in as it is. Parameters: after, upTo, the prefixes (see prefixParameters), limit.
 */
function bodyPageSql(prefixCount: number | undefined): string {
  const row = `printf('[%d,%s,%d,%s,%s,%s]', position, json_quote(stream_id), revision, json_quote(type), data, json_quote(recorded_at))`;
  const where = `position > ? AND position <= ?${prefixCount === undefined ? '' : ` AND ${prefixMatch(prefixCount)}`}`;
  return `SELECT group_concat(${row}), max(position)
    FROM (SELECT position, stream_id, revision, type, data, recorded_at FROM events WHERE ${where} ORDER BY position LIMIT ?)`;
}

const prefixParameters = (prefixes: readonly string[] | undefined): string[] => (prefixes ?? []).flatMap((p) => [p, p]);

function bodiesOfPage(page: string): EventBody[] {
  const rows = JSON.parse(`[${page}]`) as Array<[number, string, number, string, unknown, string]>;
  const bodies = new Array<EventBody>(rows.length);
  let ordered = true;
  for (let i = 0; i < rows.length; i++) {
    const [position, streamId, revision, type, data, recordedAt] = rows[i];
    bodies[i] = { streamId, revision, position, type, data, recordedAt };
    if (i > 0 && position < bodies[i - 1].position) ordered = false;
  }
  // group_concat keeps the subquery's order in practice, but SQLite does not promise it.
  return ordered ? bodies : bodies.sort((a, b) => a.position - b.position);
}

/**
 * How much of the events file a replay maps into memory (SQLite caps it at 2 GiB; the rest is read as
 * usual). A replay reads every page of the file once: mapped, SQLite reads them in place instead of
 * copying each into its cache with a read call, about a tenth of a million-event rebuild.
 */
export const REPLAY_MMAP_BYTES = 2 ** 31;

/**
 * The replay reader keeps its pages under this many characters: V8 gives a string of more than
 * 128 KiB a memory mapping of its own, made and unmapped again for every page, in the reader and again
 * in the thread that parses it. Measured on a million-event rebuild: half the page faults, and about
 * 6% of the time, against pages of 2,000 bodies (600 KB).
 */
const REPLAY_PAGE_CHARS = 96 * 1024;

/** Plain JavaScript given as text, so that it runs the same from the sources (tests) and from dist/. */
const PAGE_READER_SOURCE = `
const { parentPort, workerData: w } = require('node:worker_threads');
const Database = require(w.driver);
const db = new Database(w.file);
db.pragma('busy_timeout = 5000');
db.pragma('mmap_size = ' + w.mmapBytes);
const read = db.prepare(w.sql).raw();
let after = w.after;
let credits = w.ahead;
// Bodies per page: at most pageSize, fewer where the bodies are large (see REPLAY_PAGE_CHARS).
let limit = Math.min(w.pageSize, 16);
const pump = () => {
  for (; credits > 0; credits--) {
    const [page, last] = after >= w.upTo ? [null, null] : read.get(after, w.upTo, ...w.parameters, limit);
    parentPort.postMessage(page);
    if (page === null) return db.close();
    after = last;
    limit = Math.max(1, Math.min(w.pageSize, Math.floor((limit * w.pageChars) / page.length)));
  }
};
parentPort.on('message', () => {
  credits++;
  pump();
});
pump();
`;

/** Stream-id prefixes as plain comparisons (two parameters each, both the prefix) that SQLite does in C. */
function prefixMatch(count: number): string {
  return count === 0 ? '0' : `(${Array.from({ length: count }, () => 'substr(stream_id, 1, length(?)) = ?').join(' OR ')})`;
}

function toStoredEvent([position, streamId, revision, type, data, metadata, recordedAt, prevHash, hash]: RawEventRow): StoredEvent {
  return { streamId, revision, position, type, data: JSON.parse(data), metadata: JSON.parse(metadata), recordedAt, prevHash, hash };
}
