import type Database from 'better-sqlite3';
import { Worker } from 'node:worker_threads';
import { EventStore, REPLAY_MMAP_BYTES, SqliteEventStore } from '@lib/event-store';
import { SERVICE_STREAM_PREFIXES } from '../stream-categories';
import { BodyProjection, EventProjection, Projection, RebuildRows } from './projection';

export interface RebuildOptions {
  /** Fresh projection instances: they build the copy, beside the live views under REBUILD_PREFIX. */
  readonly aside: readonly Projection[];
  /** The same projections, bound to the live views: what the copy replaces at the swap. */
  readonly live: readonly Projection[];
  readonly progress?: (events: number, position: number) => void;
  /** Called just before the swap takes the live database's write lock (a runner in this process pauses). */
  readonly beforeSwap?: () => void | Promise<void>;
}

export interface RebuildResult {
  readonly events: number;
  readonly position: number;
  readonly views: readonly string[];
}

/** Names of the copy's tables and indexes while it is built: the live name with this in front. */
export const REBUILD_PREFIX = 'rebuilding__';

export class RebuildInProgressError extends Error {
  constructor(pid: number, since: string) {
    super(`another rebuild is running on these read models (pid ${pid}, since ${since})`);
  }
}

/**
 * Events per page at most: a small page keeps less of the fold's heap alive when V8 collects its young
 * generation. The SQLite store's reader makes its pages smaller still where the bodies are large.
 */
const PAGE = 2_000;
/**
 * How much write-ahead log a rebuild lets build up between checkpoints (SQLite's default is 1000
 * pages): checkpointing the copy every few megabytes cost about half a second of a million-event
 * rebuild. The log is checkpointed once more when the swap has committed.
 */
const REBUILD_WAL_BYTES = 64 * 1024 * 1024;
/** Events per transaction of the worker's SQL: short enough for the live views to write in between. */
const SQL_CHUNK = 50_000;

/**
 * Builds views from the first event into a copy beside the live ones, in the same SQLite file under
 * REBUILD_PREFIX, then swaps them in. Readers see the old views until the swap commits and the rebuilt
 * ones after it, never a half-built one; a service running on the same DATA_DIR goes on serving and
 * following meanwhile, and continues from the swapped checkpoints.
 *
 * Up to the store's head when the rebuild starts, the copy is built two ways at once:
 * - projections that say what they write as SQL (insertFromEventsSql) are built by SQLite in a worker
 *   thread, straight from the events table, when the events are in a SQLite file;
 * - the others are fed pages of events in this thread, bodies only where they need no more.
 * The swap is one transaction holding the live write lock: the copy takes in what the live views took
 * in meanwhile, the live tables are dropped and the copy's renamed in, the indexes built once, the
 * checkpoints set.
 */
export async function rebuildAsideAndSwap(store: EventStore, liveDb: Database.Database, options: RebuildOptions): Promise<RebuildResult> {
  claim(liveDb);
  const checkpointEvery = liveDb.pragma('wal_autocheckpoint', { simple: true }) as number;
  const rebuildCheckpointEvery = Math.ceil(REBUILD_WAL_BYTES / (liveDb.pragma('page_size', { simple: true }) as number));
  liveDb.pragma(`wal_autocheckpoint = ${rebuildCheckpointEvery}`);
  const aside = options.aside;
  let worker: SqlWorker | null = null;
  try {
    const target = await store.headPosition();
    const eventsFile = store instanceof SqliteEventStore ? store.file : null;
    const bySql = eventsFile === null ? [] : aside.filter((p) => p.insertFromEventsSql);
    const fed = aside.filter((p) => !bySql.includes(p));
    for (const projection of aside) projection.setup(liveDb, REBUILD_PREFIX);
    // The copy's indexes are built once, at the swap, from the finished tables: far cheaper than row by row.
    for (const { name } of liveDb
      .prepare<[string], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND name GLOB ?")
      .all(`${REBUILD_PREFIX}*`)) {
      liveDb.exec(`DROP INDEX "${name}"`);
    }
    if (eventsFile !== null) {
      // With nothing fed here, the worker counts the events, for the result and the progress lines.
      worker = new SqlWorker(liveDb.name, eventsFile, rebuildCheckpointEvery, bySql, target, fed.length === 0 ? (options.progress ?? (() => undefined)) : undefined);
    }
    const rows = new RowWriter(liveDb, worker);
    for (const projection of aside) projection.beginRebuild?.(rows);

    let events = 0;
    if (fed.length > 0) {
      events = await feed(store, liveDb, fed, 0, target, true, (count, position) => options.progress?.(count, position));
    }
    rows.flush();
    if (worker) {
      const counted = await worker.finish();
      if (fed.length === 0) events = counted;
      // The worker now checkpoints what it wrote, beside the writes below; what they add is left to the
      // checkpoint after the swap.
      liveDb.pragma('wal_autocheckpoint = 0');
    }
    for (const projection of aside) projection.endRebuild?.(liveDb);
    await worker?.close();

    await options.beforeSwap?.();
    liveDb.exec('BEGIN IMMEDIATE');
    try {
      // What the live views applied while the copy was built must be in the copy too.
      const checkpoint = liveDb.prepare<[string], { position: number }>('SELECT position FROM projection_checkpoints WHERE name = ?');
      const liveHead = Math.max(0, ...options.live.map((p) => checkpoint.get(p.name)?.position ?? 0));
      let position = target;
      if (liveHead > target) {
        events += await feed(store, liveDb, aside, target, liveHead, false, () => undefined);
        position = liveHead;
      }
      swap(liveDb, aside, options.live, position);
      liveDb.prepare('DELETE FROM projection_rebuilds').run();
      liveDb.exec('COMMIT');
      liveDb.pragma('wal_checkpoint(PASSIVE)');
      return { events, position, views: options.live.map((p) => p.name) };
    } catch (error) {
      if (liveDb.inTransaction) liveDb.exec('ROLLBACK');
      throw error;
    }
  } catch (error) {
    await worker?.stop();
    abandon(liveDb);
    throw error;
  } finally {
    liveDb.pragma(`wal_autocheckpoint = ${checkpointEvery}`);
  }
}

/**
 * One rebuild at a time per read-model file: a second one (in this process or another) is refused,
 * and what a crashed one left (its copy, its claim) is cleared by the next.
 */
function claim(db: Database.Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS projection_rebuilds (pid INTEGER NOT NULL, started_at TEXT NOT NULL)');
  db.transaction(() => {
    const running = db.prepare<[], { pid: number; started_at: string }>('SELECT pid, started_at FROM projection_rebuilds').get();
    if (running && isAlive(running.pid)) throw new RebuildInProgressError(running.pid, running.started_at);
    dropCopy(db);
    db.prepare('DELETE FROM projection_rebuilds').run();
    db.prepare('INSERT INTO projection_rebuilds (pid, started_at) VALUES (?, ?)').run(process.pid, new Date().toISOString());
  }).immediate();
}

function abandon(db: Database.Database): void {
  try {
    db.transaction(() => {
      dropCopy(db);
      db.prepare('DELETE FROM projection_rebuilds WHERE pid = ?').run(process.pid);
    }).immediate();
  } catch {
    // The next rebuild clears what is left.
  }
}

function dropCopy(db: Database.Database): void {
  const tables = db
    .prepare<[string], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB ?")
    .all(`${REBUILD_PREFIX}*`);
  for (const { name } of tables) db.exec(`DROP TABLE "${name}"`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Feeds the events in (after, upTo] to the projections; returns how many there were. `inRebuild`: the
 * projections with beginRebuild are folding in memory.
 */
async function feed(
  store: EventStore,
  db: Database.Database,
  projections: readonly Projection[],
  after: number,
  upTo: number,
  inRebuild: boolean,
  progress: (events: number, position: number) => void,
): Promise<number> {
  const bodies = projections.filter((p): p is BodyProjection => p.reads === 'bodies');
  const whole = projections.filter((p): p is EventProjection => p.reads === 'events');
  // Projections that fold in memory write nothing here; the others write a page per transaction.
  const inTransaction = (apply: () => void) => (projections.some((p) => !p.beginRebuild || !inRebuild) ? db.transaction(apply).immediate() : apply());
  let events = 0;
  let reported = after;
  const pageDone = (position: number) => {
    if (Math.floor(position / 100_000) > Math.floor(reported / 100_000)) progress(events, position);
    reported = position;
  };
  if (whole.length === 0) {
    // Bodies only (about twice as cheap to read), read ahead by the store where it can.
    for await (const page of store.replayBodies(after, upTo, { pageSize: PAGE, streamPrefixes: SERVICE_STREAM_PREFIXES })) {
      inTransaction(() => {
        for (const event of page) for (const projection of bodies) projection.apply(event, db);
      });
      events += page.length;
      pageDone(page[page.length - 1].position);
    }
    return events;
  }
  for (let position = after; position < upTo; ) {
    const page = (await store.readAll(position, { limit: PAGE, streamPrefixes: SERVICE_STREAM_PREFIXES })).filter((e) => e.position <= upTo);
    inTransaction(() => {
      for (const event of page) {
        for (const projection of bodies) projection.apply(event, db);
        for (const projection of whole) projection.apply(event, db);
      }
    });
    events += page.length;
    position = page.length === 0 ? upTo : page[page.length - 1].position;
    pageDone(position);
  }
  return events;
}

/** Inside the swap's transaction: the live tables are replaced by the copy, and the checkpoints moved. */
function swap(db: Database.Database, aside: readonly Projection[], live: readonly Projection[], position: number): void {
  db.prepare("DELETE FROM projection_checkpoints WHERE name = ''").run();
  const setCheckpoint = db.prepare(
    'INSERT INTO projection_checkpoints (name, position) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET position = excluded.position',
  );
  const setVersion = db.prepare(
    'INSERT INTO projection_versions (name, version) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET version = excluded.version',
  );
  aside.forEach((copy, i) => {
    const projection = live[i];
    for (const table of copy.tables) {
      db.exec(`DROP TABLE IF EXISTS "${table}"`);
      db.exec(`ALTER TABLE "${REBUILD_PREFIX}${table}" RENAME TO "${table}"`);
    }
    // The live names' indexes, built once from the finished tables; the statements prepared again.
    projection.setup(db);
    setCheckpoint.run(projection.name, position);
    setVersion.run(projection.name, projection.version);
  });
}

const ROW_BATCH = 5_000;

/**
 * The rebuild's RebuildRows. With a SQL worker, batches of rows go to it, to be written once its SQL is
 * done, while the fold goes on here: the two threads never wait on each other's write lock, and the rows
 * leave this thread's heap as soon as they are posted. Without one, they are written here.
 */
class RowWriter implements RebuildRows {
  private readonly pending = new Map<string, Array<readonly unknown[]>>();

  constructor(
    private readonly db: Database.Database,
    private readonly worker: SqlWorker | null,
  ) {}

  add(table: string, values: readonly unknown[]): void {
    const rows = this.pending.get(table) ?? [];
    if (rows.push(values) === 1) this.pending.set(table, rows);
    if (rows.length >= ROW_BATCH) this.write(table, rows);
  }

  flush(): void {
    for (const [table, rows] of this.pending) this.write(table, rows);
  }

  private write(table: string, rows: Array<readonly unknown[]>): void {
    this.pending.delete(table);
    if (rows.length === 0) return;
    if (this.worker) return this.worker.write(table, rows);
    const insert = this.db.prepare(insertSql(table, rows[0].length));
    this.db.transaction(() => {
      for (const row of rows) insert.run(...row);
    }).immediate();
  }
}

const insertSql = (table: string, columns: number) =>
  `INSERT OR IGNORE INTO "${REBUILD_PREFIX}${table}" VALUES (${Array.from({ length: columns }, () => '?').join(', ')})`;

/**
 * Runs the projections' insertFromEventsSql in a worker thread: SQLite reads the events file and writes
 * the copy in C, in transactions of SQL_CHUNK positions, while this thread feeds the other projections.
 * Then it writes the rows this thread hands it (RowWriter), until told to finish.
 * The worker is plain JavaScript given as text, so it runs the same from the sources and from dist/.
 */
class SqlWorker {
  /** Everything handed to the worker is written: the events it counted. */
  private readonly written: Promise<number>;
  /** It has checkpointed what it wrote, and closed its connection. */
  private readonly closed: Promise<void>;
  private readonly worker: Worker;

  /** With `progress`, the worker also counts the events it went through (a second pass over each chunk, in C). */
  constructor(
    readModelsFile: string,
    eventsFile: string,
    checkpointEvery: number,
    projections: readonly Projection[],
    upTo: number,
    progress?: (events: number, position: number) => void,
  ) {
    const prefixes = SERVICE_STREAM_PREFIXES;
    const source = `(SELECT position, stream_id, revision, type, data, metadata, recorded_at FROM rebuild_events.events
      WHERE position > @after AND position <= @upTo AND (${prefixes.map((_, i) => `substr(stream_id, 1, length(@p${i})) = @p${i}`).join(' OR ') || '0'}))`;
    const parameters = Object.fromEntries(prefixes.map((prefix, i) => [`p${i}`, prefix]));
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        driver: require.resolve('better-sqlite3'),
        readModelsFile,
        eventsFile,
        mmapBytes: REPLAY_MMAP_BYTES,
        checkpointEvery,
        statements: projections.map((p) => p.insertFromEventsSql!(REBUILD_PREFIX, source)),
        count: progress ? `SELECT count(*) FROM ${source}` : null,
        parameters,
        upTo,
        chunk: SQL_CHUNK,
      },
    });
    let closed!: () => void;
    let failed!: (error: Error) => void;
    this.closed = new Promise<void>((resolve, reject) => {
      closed = resolve;
      failed = reject;
    });
    this.written = new Promise<number>((resolve, reject) => {
      this.worker.on('message', (message: { events: number; position: number; written?: boolean; closed?: boolean }) => {
        if (message.written) resolve(message.events);
        else if (message.closed) closed();
        else progress?.(message.events, message.position);
      });
      const fail = (error: Error) => {
        reject(error);
        failed(error);
      };
      this.worker.on('error', fail);
      this.worker.on('exit', (code) => fail(new Error(`the rebuild's SQL worker stopped (exit code ${code})`)));
    });
    // Settled through `finish` and `close`; a failure before anyone awaits them must not be an unhandled rejection.
    this.written.catch(() => undefined);
    this.closed.catch(() => undefined);
  }

  write(table: string, rows: Array<readonly unknown[]>): void {
    this.worker.postMessage({ sql: insertSql(table, rows[0].length), rows });
  }

  /** Resolves, with the events the worker counted, once everything handed to it is written. */
  finish(): Promise<number> {
    this.worker.postMessage({ finish: true });
    return this.written;
  }

  /** After `finish`: resolves once the worker has checkpointed what it wrote and stopped. */
  async close(): Promise<void> {
    await this.closed;
    await this.worker.terminate();
  }

  async stop(): Promise<void> {
    await this.worker.terminate();
  }
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.readModelsFile);
// The live views write between this worker's transactions.
db.pragma('busy_timeout = 60000');
// As for the live views: a crash loses the copy, never the log; a rebuild starts over.
db.pragma('synchronous = NORMAL');
db.pragma('wal_autocheckpoint = ' + workerData.checkpointEvery);
db.prepare('ATTACH DATABASE ? AS rebuild_events').run(workerData.eventsFile);
// The events file is read once from end to end: mapped, not copied page by page (see REPLAY_MMAP_BYTES).
db.pragma('rebuild_events.mmap_size = ' + workerData.mmapBytes);
const statements = workerData.statements.map((sql) => db.prepare(sql));
const count = workerData.count === null ? null : db.prepare(workerData.count).pluck();
let events = 0;
let lastReported = 0;
for (let after = 0; after < workerData.upTo; after += workerData.chunk) {
  const range = { ...workerData.parameters, after, upTo: Math.min(after + workerData.chunk, workerData.upTo) };
  db.transaction(() => {
    for (const statement of statements) statement.run(range);
  })();
  if (count !== null) events += count.get(range);
  if (Math.floor(range.upTo / 100000) > Math.floor(lastReported / 100000)) {
    parentPort.postMessage({ events, position: range.upTo });
    lastReported = range.upTo;
  }
}
// Then the rows the main thread folded, as they come (they queued up meanwhile).
const inserts = new Map();
parentPort.on('message', (message) => {
  if (message.finish) {
    parentPort.postMessage({ events, position: workerData.upTo, written: true });
    // Beside the main thread's last writes: the checkpoint after the swap is left only those.
    db.pragma('wal_checkpoint(PASSIVE)');
    db.close();
    parentPort.postMessage({ closed: true });
    return;
  }
  let insert = inserts.get(message.sql);
  if (!insert) inserts.set(message.sql, (insert = db.prepare(message.sql)));
  db.transaction(() => {
    for (const row of message.rows) insert.run(row);
  }).immediate();
});
`;
