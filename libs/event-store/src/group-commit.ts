import { ConcurrencyError } from './concurrency.error';
import { eventHash } from './event-hash';
import { AppendResult, ExpectedRevision, NewEvent } from './event-store.port';

/**
 * What an adapter tells about its writes, for metrics: the lib records through this and imports no
 * metrics library; the application passes one in with EventStore.observe.
 */
export interface EventStoreObserver {
  /** One append settled after `seconds` (from the call, its wait for a group commit included). */
  appended(seconds: number, outcome: 'ok' | 'conflict' | 'error'): void;
  /** One group commit (one transaction) wrote `appends` appends. */
  groupCommitted(appends: number): void;
}

/** `append`, reported to the observer when it settles; `append` itself when there is none. */
export function observedAppend(observer: EventStoreObserver | null, append: Promise<AppendResult>): Promise<AppendResult> {
  if (observer === null) return append;
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  return append.then(
    (result) => {
      observer.appended(seconds(), 'ok');
      return result;
    },
    (error: unknown) => {
      observer.appended(seconds(), error instanceof ConcurrencyError ? 'conflict' : 'error');
      throw error;
    },
  );
}

/** An append waiting for the next group commit of an adapter that batches them (SQLite, PostgreSQL). */
export interface PendingAppend {
  readonly streamId: string;
  readonly events: readonly NewEvent[];
  readonly expected: ExpectedRevision;
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: unknown) => void;
}

/** Answers each append of a committed batch with its own outcome, then wakes the listeners once. */
export function settle(
  batch: readonly PendingAppend[],
  outcomes: ReadonlyArray<AppendResult | ConcurrencyError>,
  listeners: Iterable<(position: number) => void>,
): void {
  let last = 0;
  batch.forEach((append, i) => {
    const outcome = outcomes[i];
    if (outcome instanceof ConcurrencyError) append.reject(outcome);
    else {
      last = Math.max(last, outcome.lastPosition);
      append.resolve(outcome);
    }
  });
  if (last > 0) for (const listener of listeners) listener(last);
}

/** An event as an adapter writes it: JSON text, its revision, and its place in the stream's chain. */
export interface ChainedEvent {
  readonly type: string;
  readonly revision: number;
  readonly data: string;
  readonly metadata: string;
  readonly prevHash: string | null;
  readonly hash: string;
}

/**
 * The events of one append, numbered after the stream's current revision and chained to its head.
 * Each is hashed as a reader will see it: the stored JSON, parsed.
 */
export function chainEvents(events: readonly NewEvent[], current: number, headHash: string | null): ChainedEvent[] {
  let prevHash = headHash;
  return events.map((event, i) => {
    const revision = current + 1 + i;
    const data = JSON.stringify(event.data ?? null);
    const metadata = JSON.stringify(event.metadata ?? {});
    const hash = eventHash(prevHash, { type: event.type, data: JSON.parse(data), metadata: JSON.parse(metadata), revision });
    const chained = { type: event.type, revision, data, metadata, prevHash, hash };
    prevHash = hash;
    return chained;
  });
}
