import { BeforeApplicationShutdown, Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/app.config';
import { ProjectionRunner } from '../read-side/projection-runner';
import { FeedTransport, Metrics } from '../observability/metrics';
import { Revocation } from './revocation';
import { RevocationsProjection } from './revocations.projection';

/** Where a subscription sends what it reads; `drain` resolves when the transport can take more. */
export interface FeedSink {
  revocation(revocation: Revocation): void;
  /** Every revocation up to `position` has been sent before this; `head` is the feed's own position. */
  heartbeat(position: number, head: number): void;
  drain(): Promise<void>;
  /**
   * Ends the transport's stream, saying why: `shutdown`, the service is stopping and the client resumes
   * elsewhere; `token_expired`, the token the stream was opened with expired, and a new one is needed.
   */
  end(reason: FeedEndReason): void;
  readonly closed: boolean;
  /** Which stream transport this is, for the subscriber and records-sent metrics. */
  readonly transport: FeedTransport;
}

export type FeedEndReason = 'shutdown' | 'token_expired';

interface Subscriber {
  readonly sink: FeedSink;
  delivered: number;
}

/** setTimeout's longest delay (about 24.8 days); a later end is re-armed in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

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
  /** After endAll: a stream opened while the servers close ends at once, or it would hold their close. */
  private stopping = false;
  private readonly heartbeat: NodeJS.Timeout;
  /** key_service_revocation_feed_records_sent_total, bound per transport once. */
  private readonly sent: Record<FeedTransport, { inc(by?: number): void }>;

  constructor(
    private readonly revocations: RevocationsProjection,
    private readonly runner: ProjectionRunner,
    @Inject(APP_CONFIG) config: AppConfig,
    metrics: Metrics,
  ) {
    this.sent = { sse: metrics.feedRecordsSent.labels('sse'), grpc: metrics.feedRecordsSent.labels('grpc') };
    this.sent.sse.inc(0);
    this.sent.grpc.inc(0);
    metrics.onScrape(() => {
      const open: Record<FeedTransport, number> = { sse: 0, grpc: 0 };
      for (const subscriber of this.subscribers) if (!subscriber.sink.closed) open[subscriber.sink.transport]++;
      for (const transport of ['sse', 'grpc'] as const) metrics.feedSubscribers.labels(transport).set(open[transport]);
    });
    this.notified = runner.checkpoint;
    runner.onCommitted('notify', (_events, position) => this.publish(position));
    this.heartbeat = setInterval(() => this.beat(), config.revocationHeartbeatMs);
    this.heartbeat.unref();
  }

  /** Open streams would hold the HTTP server's close forever: end them first (the shutdown sequence calls this). */
  beforeApplicationShutdown(): void {
    this.endAll('shutdown');
  }

  /** Ends every open stream after a last heartbeat, saying why; a stream opened afterwards ends at once. */
  endAll(reason: FeedEndReason): void {
    clearInterval(this.heartbeat);
    this.stopping = true;
    const head = this.runner.checkpoint;
    for (const subscriber of this.subscribers) {
      if (subscriber.sink.closed) continue;
      // The last heartbeat gives the client the position to resume from elsewhere.
      subscriber.sink.heartbeat(subscriber.delivered, head);
      subscriber.sink.end(reason);
    }
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
   * starts, so nothing committed in between is missed. At `endAtMs` (epoch milliseconds: the expiry
   * of the token the stream was opened with) the sink is ended with `token_expired`.
   */
  async subscribe(after: number, sink: FeedSink, endAtMs = Number.POSITIVE_INFINITY): Promise<() => void> {
    const subscription = await this.follow(after, sink);
    if (subscription === null) return () => undefined;
    if (this.stopping) {
      this.subscribers.delete(subscription);
      if (!sink.closed) sink.end('shutdown');
      return () => undefined;
    }
    let timer: NodeJS.Timeout | undefined;
    const stop = () => {
      clearTimeout(timer);
      this.subscribers.delete(subscription);
    };
    const arm = () => {
      const left = endAtMs - Date.now();
      if (left <= 0) {
        stop();
        if (!sink.closed) sink.end('token_expired');
        return;
      }
      if (left === Number.POSITIVE_INFINITY) return;
      timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
      timer.unref();
    };
    arm();
    return stop;
  }

  private async follow(after: number, sink: FeedSink): Promise<Subscriber | null> {
    let delivered = after;
    for (;;) {
      const head = this.runner.checkpoint;
      const page = this.revocations.after(delivered, BACKLOG_PAGE);
      for (const revocation of page) sink.revocation(revocation);
      if (page.length > 0) this.sent[sink.transport].inc(page.length);
      if (page.length === BACKLOG_PAGE) {
        delivered = page[page.length - 1].position;
        await sink.drain();
        if (sink.closed) return null;
        continue;
      }
      delivered = Math.max(delivered, head, page.length > 0 ? page[page.length - 1].position : 0);
      break;
    }
    const subscriber: Subscriber = { sink, delivered };
    this.subscribers.add(subscriber);
    sink.heartbeat(delivered, this.runner.checkpoint);
    return subscriber;
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
      let sent = 0;
      for (const revocation of fresh) {
        if (revocation.position > subscriber.delivered) {
          subscriber.sink.revocation(revocation);
          sent++;
        }
      }
      if (sent > 0) this.sent[subscriber.sink.transport].inc(sent);
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
