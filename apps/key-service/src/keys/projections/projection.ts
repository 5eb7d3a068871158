import type Database from 'better-sqlite3';
import { StoredEvent } from '@lib/event-store';

export const PROJECTIONS = Symbol('PROJECTIONS');

/** A read model built from the store's global order; `apply` runs inside the runner's transaction. */
export interface Projection {
  readonly name: string;
  /** Raised whenever the tables' shape or meaning changes: a stored view of another version is rebuilt. */
  readonly version: number;
  /** Every table the projection owns: what a rebuild builds aside and swaps in. */
  readonly tables: readonly string[];
  setup(db: Database.Database): void;
  apply(event: StoredEvent, db: Database.Database): void;
  /** Drops what the projection built, so that it can be rebuilt from position 0. */
  reset(db: Database.Database): void;
  /**
   * A rebuild into a private copy may keep state in memory (nobody else writes that copy) and
   * write it once in `endRebuild`, instead of reading and writing rows per event.
   */
  beginRebuild?(): void;
  endRebuild?(db: Database.Database): void;
}
