import type Database from 'better-sqlite3';

/** The LeaseStore of the process (storage.module.ts picks it by EVENT_STORE). */
export const LEASE_STORE = Symbol('LEASE_STORE');

/** What a lease store answers for a job: who holds it, with which fencing token, for how long still. */
export interface LeaseHolder {
  readonly holder: string;
  /** Grows by one each time the lease changes hands; a write fenced by a smaller token is refused. */
  readonly fencingToken: number;
  /** How long the lease has left by the store's clock (ms); 0 or less once it has run out. */
  readonly remainingMs: number;
}

/**
 * Leases for the jobs that must run on one instance at a time (the Kafka relay, the expiry scheduler,
 * the data-key sweep), and the fenced checkpoints of those jobs. Implementations:
 *  - `ProcessLeaseStore` (SQLite): the process is the only instance, so it always holds every lease;
 *  - `PostgresLeaseStore`: a lease row per job with a fencing token, timed by the server's clock;
 *  - `EventStreamLeaseStore` (KurrentDB): a `lease-<job>` stream appended with an expected revision.
 * All are held to one contract (lease-store.contract.ts).
 */
export interface LeaseStore {
  readonly kind: 'process' | 'postgres' | 'event-stream';
  /**
   * Takes the job's lease for `durationMs` when it is free, has run out, or is already `holder`'s.
   * Returns the fencing token, or null when another holder has it. A new holder gets a larger token
   * than any before it. Throws when the store cannot be reached.
   */
  acquire(job: string, holder: string, durationMs: number): Promise<number | null>;
  /** Extends `holder`'s lease by `durationMs` from now; false when it has passed to another holder. */
  renew(job: string, holder: string, fencingToken: number, durationMs: number): Promise<boolean>;
  /** Gives the lease up at once (a graceful stop), so that another instance need not wait it out. */
  release(job: string, holder: string, fencingToken: number): Promise<void>;
  /** The current holder, or null when nobody ever held the lease. */
  holder(job: string): Promise<LeaseHolder | null>;
  /** The checkpoint `name` (an event-store position) kept by `job`, or null when it has none yet. */
  loadCheckpoint(name: string, job: string): Promise<number | null>;
  /**
   * Stores a job's checkpoint, fenced: refused (false) unless `fencingToken` still holds `job`'s lease,
   * so a paused old leader cannot move the checkpoint back after another took over.
   */
  saveCheckpoint(name: string, position: number, job: string, fencingToken: number): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * The embedded store: one process owns the data directory, so it leads every job (fencing token 1), and
 * the checkpoints live in the read-model database (table `relay_checkpoints`), as before the fleet.
 */
export class ProcessLeaseStore implements LeaseStore {
  readonly kind = 'process' as const;
  private readonly held = new Map<string, string>();
  private readonly load: Database.Statement<[string], { position: number }>;
  private readonly save: Database.Statement<[string, number]>;

  constructor(db: Database.Database) {
    db.exec('CREATE TABLE IF NOT EXISTS relay_checkpoints (name TEXT PRIMARY KEY, position INTEGER NOT NULL)');
    this.load = db.prepare('SELECT position FROM relay_checkpoints WHERE name = ?');
    this.save = db.prepare(
      'INSERT INTO relay_checkpoints (name, position) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET position = excluded.position',
    );
  }

  async acquire(job: string, holder: string): Promise<number | null> {
    const current = this.held.get(job);
    if (current !== undefined && current !== holder) return null;
    this.held.set(job, holder);
    return 1;
  }

  async renew(job: string, holder: string): Promise<boolean> {
    return this.held.get(job) === holder;
  }

  async release(job: string, holder: string): Promise<void> {
    if (this.held.get(job) === holder) this.held.delete(job);
  }

  async holder(job: string): Promise<LeaseHolder | null> {
    const holder = this.held.get(job);
    return holder === undefined ? null : { holder, fencingToken: 1, remainingMs: Number.POSITIVE_INFINITY };
  }

  async loadCheckpoint(name: string): Promise<number | null> {
    return this.load.get(name)?.position ?? null;
  }

  async saveCheckpoint(name: string, position: number, job: string): Promise<boolean> {
    if (!this.held.has(job)) return false;
    this.save.run(name, position);
    return true;
  }

  async close(): Promise<void> {
    this.held.clear();
  }
}
