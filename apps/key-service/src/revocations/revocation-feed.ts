import { BeforeApplicationShutdown, Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/app.config';
import { ProjectionRunner } from '../keys/projections/projection-runner';
import { Revocation } from './revocation';
import { RevocationsProjection } from './revocations.projection';

/** Where a subscription sends what it reads; `drain` resolves when the transport can take more. */
export interface FeedSink {
  revocation(revocation: Revocation): void;
  /** Every revocation up to `position` has been sent before this; `head` is the feed's own position. */
  heartbeat(position: number, head: number): void;
  drain(): Promise<void>;
  /** Ends the transport's stream: the service is shutting down, and the client resumes elsewhere. */
  end(): void;
  readonly closed: boolean;
}

interface Subscriber {
  readonly sink: FeedSink;
  delivered: number;
}

const BACKLOG_PAGE = 1000;

/**
 * The revocation feed for the stream transports (SSE and gRPC): the backlog from the table, then
 * the live tail, pushed after each committed projection batch. The feed reads the new rows once per
 * batch and hands them to every subscriber, and sends heartbeats so that a gateway can tell a quiet
 * feed from a dead one.
 */
@Injectable()
export class RevocationFeed implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly subscribers = new Set<Subscriber>();
  private notified: number;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    private readonly revocations: RevocationsProjection,
    private readonly runner: ProjectionRunner,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.notified = runner.checkpoint;
    runner.onCommitted('notify', (_events, position) => this.publish(position));
    this.heartbeat = setInterval(() => this.beat(), config.revocationHeartbeatMs);
    this.heartbeat.unref();
  }

  /** Open streams would hold the HTTP server's close forever: end them first. */
  beforeApplicationShutdown(): void {
    clearInterval(this.heartbeat);
    for (const subscriber of this.subscribers) subscriber.sink.end();
    this.subscribers.clear();
  }

  onApplicationShutdown(): void {
    clearInterval(this.heartbeat);
  }

  /** The position every view, this feed included, has reached. */
  get head(): number {
    return this.runner.checkpoint;
  }

  page(after: number, limit: number): Revocation[] {
    return this.revocations.after(after, limit);
  }

  /**
   * Sends the backlog after `after`, then every new revocation, until the returned function is
   * called or the sink closes. The last backlog page is read in the same tick as the subscription
   * starts, so nothing committed in between is missed.
   */
  async subscribe(after: number, sink: FeedSink): Promise<() => void> {
    let delivered = after;
    for (;;) {
      const head = this.runner.checkpoint;
      const page = this.revocations.after(delivered, BACKLOG_PAGE);
      for (const revocation of page) sink.revocation(revocation);
      if (page.length === BACKLOG_PAGE) {
        delivered = page[page.length - 1].position;
        await sink.drain();
        if (sink.closed) return () => undefined;
        continue;
      }
      delivered = Math.max(delivered, head, page.length > 0 ? page[page.length - 1].position : 0);
      break;
    }
    const subscriber: Subscriber = { sink, delivered };
    this.subscribers.add(subscriber);
    sink.heartbeat(delivered, this.runner.checkpoint);
    return () => this.subscribers.delete(subscriber);
  }

  private publish(position: number): void {
    if (this.subscribers.size === 0 || position <= this.notified) {
      this.notified = Math.max(this.notified, position);
      return;
    }
    const fresh = this.revocations.after(this.notified, Number.MAX_SAFE_INTEGER);
    this.notified = position;
    for (const subscriber of this.subscribers) {
      if (subscriber.sink.closed) {
        this.subscribers.delete(subscriber);
        continue;
      }
      for (const revocation of fresh) if (revocation.position > subscriber.delivered) subscriber.sink.revocation(revocation);
      subscriber.delivered = Math.max(subscriber.delivered, position);
    }
  }

  private beat(): void {
    const head = this.runner.checkpoint;
    for (const subscriber of this.subscribers) {
      if (subscriber.sink.closed) this.subscribers.delete(subscriber);
      else subscriber.sink.heartbeat(subscriber.delivered, head);
    }
  }
}
