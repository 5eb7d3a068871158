import { ConcurrencyError, EventStore, StoredEvent } from '@lib/event-store';
import { LeaseHolder, LeaseStore } from './lease-store';

/** Lease streams are outside the service's stream categories: no projection, replay or audit reads them. */
export const LEASE_STREAM_PREFIX = 'lease-';
/** The events a lease stream keeps; older ones may go (KurrentDB's `$maxCount`), since each holds the whole state. */
export const LEASE_STREAM_MAX_COUNT = 16;
const ATTEMPTS = 5;

/** Every event of a lease stream is the lease's whole state after a change (a snapshot), so only the last counts. */
interface LeaseState {
  readonly holder: string | null;
  readonly fencingToken: number;
  /** Epoch ms, by the writer's clock. */
  readonly expiresAt: number;
  readonly checkpoints: Readonly<Record<string, number>>;
}

const EMPTY: LeaseState = { holder: null, fencingToken: 0, expiresAt: 0, checkpoints: {} };

/**
 * Leases on the event-store port itself, for KurrentDB: a `lease-<job>` stream whose every change is
 * appended with the expected revision of the state it was decided on, so two instances that race for a
 * lease cannot both win. The fencing token and the job's checkpoints are part of that state, so a
 * checkpoint write by a holder that lost the lease conflicts with the takeover and is refused. The lease
 * is timed by the instances' clocks (epoch ms): they must agree to well within the lease (NTP), which
 * PostgreSQL's leases do not need. Asks the store to keep only the last LEASE_STREAM_MAX_COUNT events.
 */
export class EventStreamLeaseStore implements LeaseStore {
  readonly kind = 'event-stream' as const;
  private readonly limited = new Set<string>();

  constructor(
    private readonly store: EventStore,
    private readonly now: () => number = Date.now,
  ) {}

  async acquire(job: string, holder: string, durationMs: number): Promise<number | null> {
    return this.change(job, (state) => {
      const free = state.holder === null || state.holder === holder || state.expiresAt <= this.now();
      if (!free) return null;
      const fencingToken = state.holder === holder ? state.fencingToken : state.fencingToken + 1;
      return { ...state, holder, fencingToken, expiresAt: this.now() + durationMs };
    }).then((state) => state?.fencingToken ?? null);
  }

  async renew(job: string, holder: string, fencingToken: number, durationMs: number): Promise<boolean> {
    const held = (state: LeaseState) => state.holder === holder && state.fencingToken === fencingToken;
    return (await this.change(job, (state) => (held(state) ? { ...state, expiresAt: this.now() + durationMs } : null))) !== null;
  }

  async release(job: string, holder: string, fencingToken: number): Promise<void> {
    await this.change(job, (state) =>
      state.holder === holder && state.fencingToken === fencingToken ? { ...state, expiresAt: this.now() } : null,
    );
  }

  async holder(job: string): Promise<LeaseHolder | null> {
    const { state } = await this.read(job);
    if (state.holder === null) return null;
    return { holder: state.holder, fencingToken: state.fencingToken, remainingMs: state.expiresAt - this.now() };
  }

  async loadCheckpoint(name: string, job: string): Promise<number | null> {
    return (await this.read(job)).state.checkpoints[name] ?? null;
  }

  async saveCheckpoint(name: string, position: number, job: string, fencingToken: number): Promise<boolean> {
    const saved = await this.change(job, (state) =>
      state.fencingToken === fencingToken && state.holder !== null && state.expiresAt > this.now()
        ? { ...state, checkpoints: { ...state.checkpoints, [name]: position } }
        : null,
    );
    return saved !== null;
  }

  async close(): Promise<void> {
    // The event store is the service's own and closes with it.
  }

  private async read(job: string): Promise<{ state: LeaseState; revision: number | 'no_stream' }> {
    const events = await this.store.readStream(LEASE_STREAM_PREFIX + job);
    const last: StoredEvent | undefined = events[events.length - 1];
    return last === undefined ? { state: EMPTY, revision: 'no_stream' } : { state: last.data as LeaseState, revision: last.revision };
  }

  /** Decides on the last state and appends the new one with its revision; re-reads after a conflict. */
  private async change(job: string, decide: (state: LeaseState) => LeaseState | null): Promise<LeaseState | null> {
    const streamId = LEASE_STREAM_PREFIX + job;
    for (let attempt = 1; ; attempt++) {
      const { state, revision } = await this.read(job);
      const next = decide(state);
      if (next === null) return null;
      try {
        await this.store.appendToStream(streamId, [{ type: 'LeaseChanged', data: next, metadata: {} }], revision);
        if (!this.limited.has(streamId)) {
          await this.store.limitStream?.(streamId, LEASE_STREAM_MAX_COUNT);
          this.limited.add(streamId);
        }
        return next;
      } catch (error) {
        if (!(error instanceof ConcurrencyError) || attempt >= ATTEMPTS) throw error;
      }
    }
  }
}
