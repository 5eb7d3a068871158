import type Database from 'better-sqlite3';
import { EventBody, StoredEvent } from '@lib/event-store';

export const PROJECTIONS = Symbol('PROJECTIONS');

/** Where a rebuild's finished rows go: `values` in the column order of the copy of `table`. */
export interface RebuildRows {
  add(table: string, values: readonly unknown[]): void;
}

interface ProjectionBase {
  readonly name: string;
  /** Raised whenever the tables' shape or meaning changes: a stored view of another version is rebuilt. */
  readonly version: number;
  /** Every table the projection owns: what a rebuild builds aside and swaps in. */
  readonly tables: readonly string[];
  /**
   * Creates the tables and their indexes where missing, and prepares the statements. `prefix` goes in
   * front of every table and index name: a rebuild builds its copy beside the live views under a
   * prefix, and renames the copy in when it swaps.
   */
  setup(db: Database.Database, prefix?: string): void;
  /** Drops what the projection built, so that it can be rebuilt from position 0. */
  reset(db: Database.Database): void;
  /**
   * A rebuild into a private copy may keep state in memory (nobody else writes that copy) and
   * write it once in `endRebuild`, instead of reading and writing rows per event. Rows that need no
   * more folding go to `rows`: the rebuild writes them into the copy while the fold goes on (in
   * another thread where it has one).
   */
  beginRebuild?(rows: RebuildRows): void;
  endRebuild?(db: Database.Database): void;
  /**
   * The rows `apply` writes for the events of `source`, as one INSERT ... SELECT over the SQLite store's
   * stored columns (position, stream_id, revision, type, recorded_at, and data and metadata as JSON
   * text). When the events are in a SQLite file, a rebuild has SQLite run it in a worker thread, beside
   * the projections fed in JavaScript; the rebuild tests hold it to the rows `apply` writes.
   */
  insertFromEventsSql?(prefix: string, source: string): string;
}

/** A projection that folds event bodies only: a rebuild feeds it bodies, far cheaper to read in bulk. */
export interface BodyProjection extends ProjectionBase {
  readonly reads: 'bodies';
  apply(event: EventBody, db: Database.Database): void;
}

/** A projection that needs the whole stored event (its metadata, or its place in the hash chain). */
export interface EventProjection extends ProjectionBase {
  readonly reads: 'events';
  apply(event: StoredEvent, db: Database.Database): void;
}

/** A read model built from the store's global order; `apply` runs inside the runner's transaction. */
export type Projection = BodyProjection | EventProjection;

/** An aggregate's state as the per-aggregate views fold it: absent until created, then with its key. */
export type AggregateState<K> = { readonly status: 'absent' } | { readonly status: string; readonly key: K };

/**
 * What a view that keeps one row per aggregate holds during a rebuild: each aggregate's latest state,
 * and the position of its first event, written once by endRebuild.
 */
export class RebuildFold<K, S extends AggregateState<K>> {
  /** One entry per aggregate, changed in place: one map lookup per event. */
  private readonly aggregates = new Map<string, { state: S; readonly firstPosition: number }>();

  fold(id: string, position: number, step: (state: S | undefined) => S): void {
    const known = this.aggregates.get(id);
    if (known === undefined) this.aggregates.set(id, { state: step(undefined), firstPosition: position });
    else known.state = step(known.state);
  }

  /** One row per aggregate that exists (in the order of its first event), given by `row`, in one transaction. */
  write(db: Database.Database, insert: Database.Statement<unknown[]>, row: (key: K, firstPosition: number) => readonly unknown[]): void {
    db.transaction(() => {
      for (const { state, firstPosition } of this.aggregates.values()) {
        if ('key' in state) insert.run(...row(state.key, firstPosition));
      }
    }).immediate();
  }
}
