import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type Database from 'better-sqlite3';
import { EVENT_STORE, EventFollower, EventStore, StoreUnavailableError, StoredEvent, storageFaultOf } from '@lib/event-store';
import { StorageHealth } from '../health/storage-health';
import { Metrics } from '../observability/metrics';
import { SERVICE_STREAM_PREFIXES } from '../stream-categories';
import { PROJECTIONS, Projection } from './projection';
import { RebuildResult, rebuildAsideAndSwap } from './projection-rebuild';
import { READ_MODEL_DB } from './read-model.database';

/**
 * Called after a batch committed. 'views' listeners (in-memory views such as the verification
 * lookup) all run before any 'notify' listener (feeds that tell the outside world), so that a
 * gateway told of a revocation and asking again is answered from an already updated lookup.
 */
export type CommitListener = (events: readonly StoredEvent[], position: number) => void;
export type CommitPhase = 'views' | 'notify';
/** Called after a rebuild swapped new views in, up to `position`: what was read from the old ones is stale. */
export type ReplacedListener = (position: number) => void;

/**
 * A start-up this far behind (events between the lowest checkpoint and the store's head) builds its
 * views through the bulk rebuild (projection-rebuild.ts) before it follows the log, instead of event by
 * event: at least BULK_CATCH_UP_MIN_EVENTS behind, and at least BULK_CATCH_UP_SHARE of the whole log
 * (a rebuild reads the log from the first event, some ten times faster per event than the follower).
 * Empty views over a log of 10,000 events or more qualify; a restart a few events behind does not.
 */
export const BULK_CATCH_UP_MIN_EVENTS = 10_000;
export const BULK_CATCH_UP_SHARE = 0.1;

export type CatchUpMode = 'bulk' | 'events';

export function takesBulkCatchUp(checkpoint: number, head: number): boolean {
  const behind = head - checkpoint;
  return behind >= BULK_CATCH_UP_MIN_EVENTS && behind >= head * BULK_CATCH_UP_SHARE;
}

/**
 * Feeds every projection from the store's global order. A batch and the checkpoints move in one
 * read-model transaction, so each event is applied exactly once even across crashes; the
 * checkpoints are re-read inside it, so two processes on one DATA_DIR never apply an event twice.
 */
@Injectable()
export class ProjectionRunner implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ProjectionRunner.name);
  private follower: EventFollower | null = null;
  private position = 0;
  private waiters: Array<{ position: number; resolve: () => void; reject: (error: Error) => void }> = [];
  /** Why the last batch could not be committed (null once one commits): what waiting commands are told. */
  private failure: Error | null = null;
  private readonly getCheckpoint: Database.Statement<[string], { position: number }>;
  private readonly setCheckpoint: Database.Statement<[string, number]>;
  private readonly listeners: Record<CommitPhase, CommitListener[]> = { views: [], notify: [] };
  private replacedListeners: ReplacedListener[] = [];
  /**
   * How this start-up caught up: 'bulk' (a rebuild, see takesBulkCatchUp) or 'events' (the follower
   * alone). Settles once the follower runs, after a bulk catch-up's swap.
   */
  startUp!: Promise<CatchUpMode>;
  private stopped = false;
  /** Held by a rebuild's swap: batches wait for it, so that none lands in the swap's transaction. */
  private swapping: Promise<void> | null = null;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(READ_MODEL_DB) private readonly db: Database.Database,
    @Inject(PROJECTIONS) private readonly projections: Projection[],
    private readonly storage: StorageHealth,
    metrics: Metrics,
  ) {
    this.getCheckpoint = db.prepare('SELECT position FROM projection_checkpoints WHERE name = ?');
    this.setCheckpoint = db.prepare(
      'INSERT INTO projection_checkpoints (name, position) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET position = excluded.position',
    );
    this.prepareViews();
    metrics.onScrape(() => this.sample(metrics));
  }

  /** Each view's checkpoint and its lag behind the store's head, read when Prometheus scrapes. */
  private async sample(metrics: Metrics): Promise<void> {
    let head: number | null = null;
    try {
      head = await this.store.headPosition();
      metrics.storeHead.set(head);
      metrics.storeUp.set(1);
    } catch {
      metrics.storeUp.set(0);
    }
    if (!this.db.open) return;
    for (const projection of this.projections) {
      const position = this.checkpointOf(projection.name);
      metrics.projectionPosition.labels(projection.name).set(position);
      if (head !== null) metrics.projectionLag.labels(projection.name).set(Math.max(0, head - position));
    }
  }

  /** Sets up every view; one stored under another version is dropped and rebuilt from the first event. */
  private prepareViews(): void {
    const stored = this.db.prepare<[string], { version: number }>('SELECT version FROM projection_versions WHERE name = ?');
    const record = this.db.prepare(
      'INSERT INTO projection_versions (name, version) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET version = excluded.version',
    );
    this.db.transaction(() => {
      for (const projection of this.projections) {
        const version = stored.get(projection.name)?.version ?? null;
        if (version !== projection.version) {
          if (version !== null || this.checkpointOf(projection.name) > 0) {
            this.logger.warn(`view ${projection.name} is stored as version ${version ?? 1}, now ${projection.version}: rebuilding it`);
          }
          projection.reset(this.db);
          this.setCheckpoint.run(projection.name, 0);
          record.run(projection.name, projection.version);
        }
        projection.setup(this.db);
      }
    })();
  }

  /** See CommitListener; returns the unsubscribe function. */
  onCommitted(phase: CommitPhase, listener: CommitListener): () => void {
    this.listeners[phase].push(listener);
    return () => {
      this.listeners[phase] = this.listeners[phase].filter((l) => l !== listener);
    };
  }

  /** See ReplacedListener; returns the unsubscribe function. */
  onViewsReplaced(listener: ReplacedListener): () => void {
    this.replacedListeners.push(listener);
    return () => {
      this.replacedListeners = this.replacedListeners.filter((l) => l !== listener);
    };
  }

  /** Does not wait for a bulk catch-up: meanwhile the service answers, and /readyz says catching_up. */
  onApplicationBootstrap(): void {
    this.position = Math.min(...this.projections.map((p) => this.checkpointOf(p.name)));
    this.startUp = this.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  /**
   * Far behind (takesBulkCatchUp), the views are built by a rebuild up to the head it finds, and swapped
   * in with their checkpoints; the follower then starts from there, so what was appended meanwhile is
   * applied by it, event by event. If the rebuild cannot run (another process is rebuilding, the store
   * fails), the follower catches up alone, as it would anyway.
   */
  private async start(): Promise<CatchUpMode> {
    let mode: CatchUpMode = 'events';
    try {
      const head = await this.store.headPosition();
      // Only the views far behind (all of them when the read models are new; one whose version changed).
      const behind = this.projections.filter((p) => takesBulkCatchUp(this.checkpointOf(p.name), head)).map((p) => p.name);
      if (behind.length > 0) {
        this.logger.log(`views at position ${this.position}, the store at ${head}: catching up through a bulk rebuild of ${behind.join(', ')}`);
        const started = performance.now();
        const result = await this.rebuild(behind);
        mode = 'bulk';
        this.logger.log(`caught up in bulk: ${result.events} events up to position ${result.position} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      }
    } catch (error) {
      this.logger.warn(`no bulk catch-up (${(error as Error).message}): the views catch up event by event`);
    }
    if (this.stopped) return mode;
    this.follower = new EventFollower(this.store, (events) => this.applyBatch(events), { batchSize: 1000, streamPrefixes: SERVICE_STREAM_PREFIXES });
    this.follower.start(this.position);
    return mode;
  }

  private async stop(): Promise<void> {
    this.stopped = true;
    await this.startUp?.catch(() => undefined);
    await this.follower?.stop();
    this.follower = null;
  }

  /** The lowest checkpoint of all projections: every view includes every event up to it. */
  get checkpoint(): number {
    return this.position;
  }

  private checkpointOf(name: string): number {
    return this.getCheckpoint.get(name)?.position ?? 0;
  }

  private async applyBatch(events: StoredEvent[]): Promise<number> {
    while (this.swapping) await this.swapping;
    const last = events[events.length - 1].position;
    try {
      // IMMEDIATE: the batch reads rows, then writes them; a deferred transaction would fail instead of
      // waiting if another connection (a rebuild) wrote in between.
      this.db.transaction(() => {
        for (const projection of this.projections) {
          const from = this.checkpointOf(projection.name);
          for (const event of events) if (event.position > from) projection.apply(event, this.db);
          if (last > from) this.setCheckpoint.run(projection.name, last);
        }
      }).immediate();
    } catch (error) {
      // A projection that cannot apply an event must not skip it: stop here, loudly, and retry later.
      this.logger.error(`projection batch ending at ${last} failed: ${(error as Error).message}`);
      this.failed(error);
      await new Promise((r) => setTimeout(r, 1000));
      return this.position;
    }
    this.position = last;
    if (this.failure !== null) {
      this.failure = null;
      this.storage.clear('read models');
      this.logger.log(`projections write again (batch ending at ${last})`);
    }
    for (const phase of ['views', 'notify'] as const) {
      for (const listener of this.listeners[phase]) {
        try {
          listener(events, last);
        } catch (error) {
          this.logger.error(`a ${phase} listener failed after the batch ending at ${last}: ${(error as Error).message}`);
        }
      }
    }
    this.releaseWaiters();
    return last;
  }

  /**
   * Resolves once every view includes the event at `position` (read-your-writes for commands).
   * Rejects while the views cannot be written: the command's events are in the log, but not yet in
   * effect, and its caller gets an answer now instead of waiting for the disk.
   */
  waitFor(position: number): Promise<void> {
    if (position <= this.position) return Promise.resolve();
    if (this.failure !== null) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiters.push({ position, resolve, reject }));
  }

  /**
   * A batch failed. Lock contention (another process's rebuild) passes with the retry; anything else
   * (a full disk, a damaged file, a projection's bug) may last, so every waiting command is answered.
   */
  private failed(error: unknown): void {
    const code = (error as { code?: unknown }).code;
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') return;
    const reason = storageFaultOf(error);
    if (reason !== null) this.storage.fault('read models', reason);
    this.failure =
      reason !== null
        ? new StoreUnavailableError(reason, `the change is in the event log, but the views cannot be written (${reason}): it takes effect once they can`)
        : new Error(`the views cannot take the change: ${(error as Error).message}`);
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter.reject(this.failure);
  }

  private releaseWaiters(): void {
    if (this.waiters.length === 0) return;
    const still: typeof this.waiters = [];
    for (const waiter of this.waiters) (waiter.position <= this.position ? waiter.resolve() : still.push(waiter));
    this.waiters = still;
  }

  /**
   * Builds the views (all, or those named) again from the first event, aside, while these go on
   * serving and following; then swaps them in at once (see projection-rebuild.ts).
   */
  async rebuild(names?: readonly string[], progress?: (events: number, position: number) => void): Promise<RebuildResult> {
    const live = this.projections.filter((p) => !names || names.includes(p.name));
    const aside = live.map((p) => new (p.constructor as new () => Projection)());
    let release: () => void = () => undefined;
    const result = await rebuildAsideAndSwap(this.store, this.db, {
      aside,
      live,
      progress,
      beforeSwap: () => {
        this.swapping = new Promise((resolve) => (release = resolve));
      },
    }).finally(() => {
      this.swapping = null;
      release();
    });
    this.position = Math.min(...this.projections.map((p) => this.checkpointOf(p.name)));
    for (const listener of this.replacedListeners) {
      try {
        listener(result.position);
      } catch (error) {
        this.logger.error(`a listener failed after the views were replaced up to ${result.position}: ${(error as Error).message}`);
      }
    }
    // Feeds and schedulers look at the views again, as after a batch (they read what they need from them).
    for (const listener of this.listeners.notify) {
      try {
        listener([], this.position);
      } catch (error) {
        this.logger.error(`a notify listener failed after the views were replaced up to ${this.position}: ${(error as Error).message}`);
      }
    }
    this.releaseWaiters();
    return result;
  }
}
