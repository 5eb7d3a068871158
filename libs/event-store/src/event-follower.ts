import { EventStore, StoredEvent } from './event-store.port';

export interface FollowOptions {
  readonly batchSize?: number;
  /** Other processes' appends are seen by polling at this interval. */
  readonly pollIntervalMs?: number;
  readonly streamPrefixes?: readonly string[];
}

/**
 * Follows the store's global order from a position: the backlog first, then the live tail.
 * In-process appends wake it at once; it polls for the rest. `handle` runs for one batch at a time,
 * and the next read starts after what `handle` returned as handled.
 */
export class EventFollower {
  private stopped = false;
  private wake: (() => void) | null = null;
  private running: Promise<void> | null = null;
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly store: EventStore,
    private readonly handle: (events: StoredEvent[]) => Promise<number>,
    private readonly options: FollowOptions = {},
  ) {}

  start(fromPosition: number): void {
    this.unsubscribe = this.store.onAppended(() => this.wake?.());
    this.running = this.loop(fromPosition);
  }

  private async loop(position: number): Promise<void> {
    const batchSize = this.options.batchSize ?? 500;
    while (!this.stopped) {
      let events: StoredEvent[];
      try {
        events = await this.store.readAll(position, { limit: batchSize, streamPrefixes: this.options.streamPrefixes });
      } catch (error) {
        if (this.stopped) return;
        await this.sleep(this.options.pollIntervalMs ?? 250);
        continue;
      }
      if (events.length > 0) {
        position = await this.handle(events);
        continue;
      }
      await this.sleep(this.options.pollIntervalMs ?? 250);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = null;
        done();
      };
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.wake?.();
    await this.running;
  }
}
