import { EventSourceMessage, createParser } from 'eventsource-parser';
import { Dispatcher, request } from 'undici';
import { DecorrelatedJitterBackoff } from '../backoff';
import { ServiceEndpoints } from '../service-endpoints';
import { Feed, FeedListener, Revocation } from '../types';

export interface SseFeedOptions {
  /** One key service instance, e.g. http://127.0.0.1:8080. Give this or serviceUrls. */
  readonly serviceUrl?: string;
  /**
   * The instances to follow, in order of preference, or a ServiceEndpoints shared with the
   * verification calls (GatewayClient passes its own). The feed follows one at a time and moves to
   * the next when that one fails; every instance serves the same positions, so it resumes there.
   */
  readonly serviceUrls?: readonly string[] | ServiceEndpoints;
  /** The bearer token for each (re)connect, or null to go without (the client certificate is the identity). */
  readonly token: () => string | null;
  readonly dispatcher?: Dispatcher;
  /**
   * Reconnect delays, ms: decorrelated jitter, each drawn from [minBackoffMs, 3 × the previous],
   * at most maxBackoffMs; an SSE `retry:` from the service raises the lower bound. Defaults 100 and 2000.
   */
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** How long to wait for the stream's response headers, ms (connect included); default 5000. */
  readonly connectTimeoutMs?: number;
  /**
   * Drop the connection (and move to the next instance) when nothing at all, not even a heartbeat,
   * arrived for this long, ms: an instance that hangs without closing its socket. 0 (the default): never.
   * Set it above the service's REVOCATION_HEARTBEAT_MS.
   */
  readonly idleTimeoutMs?: number;
  /** A source of [0, 1) numbers for the jitter; Math.random unless a test pins it. */
  readonly random?: () => number;
}

/** The service refused the token, or ended the stream because it expired: retrying needs a new one. */
class TokenRefused extends Error {}

/** A Last-Event-ID the service accepts: a revocation position. */
const POSITION_ID = /^\d{1,16}$/;

/**
 * Follows GET /v1/revocations/stream (Server-Sent Events), parsed by eventsource-parser (any line
 * ending, comments, multi-line data, `id:` and `retry:`, as the WHATWG spec reads them). The service
 * sends `id: <position>` on each revocation; after a disconnect the feed reconnects with that id as
 * Last-Event-ID and `after` = the last position delivered (a heartbeat moves it on too), so nothing
 * between is lost. A revocation sent twice is the listener's to drop by position.
 *
 * Any failure (refused, reset, timed out, a non-200 answer, the stream ended) moves the feed to the
 * next instance of the list before it reconnects, after a jittered delay. A refused or expired token
 * does not: every instance would refuse it. The feed then reports `tokenRefused` and retries only every
 * maxBackoffMs, since an expired token stays expired and a fast retry would only hammer the service.
 */
export class SseFeed implements Feed {
  private readonly endpoints: ServiceEndpoints;
  private stopped = false;
  private abort: AbortController | null = null;
  private wake: (() => void) | null = null;
  private running: Promise<void> | null = null;
  /** The instance whose stream is open (or opening) now; null between connections. */
  private following: string | null = null;
  /** Why the open stream is being dropped on purpose, when it is. */
  private leaving: string | null = null;
  private position = 0;
  /** The last position the service named in an `id:` field, sent back as Last-Event-ID. */
  private lastEventId: string | null = null;
  /** The service's `retry:` (ms), the floor of the reconnect delay; null until it sends one. */
  private retryMs: number | null = null;
  /** The token the current or last connection was opened with. */
  private usedToken: string | null = null;

  constructor(private readonly options: SseFeedOptions) {
    const urls = options.serviceUrls ?? (options.serviceUrl !== undefined ? [options.serviceUrl] : []);
    this.endpoints = urls instanceof ServiceEndpoints ? urls : new ServiceEndpoints(urls, 'SseFeed serviceUrls');
    // Verification calls found the instance this stream comes from failing: leave it too, so that the
    // answers they cache come from the instance whose feed evicts them.
    this.endpoints.onMove((from, to, reason) => {
      if (from !== this.following) return;
      this.leaving = `moving to ${to}: ${from} failed (${reason})`;
      this.abort?.abort();
    });
  }

  /** The instance the feed follows, or will connect to next. */
  get serviceUrl(): string {
    return this.endpoints.current;
  }

  /** The service's reconnection time from its last `retry:` field, ms; null if it sent none. */
  get reconnectFloorMs(): number | null {
    return this.retryMs;
  }

  async start(position: number, listener: FeedListener): Promise<void> {
    this.position = position;
    this.running = this.loop(listener);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort?.abort();
    this.wake?.();
    await this.running;
  }

  private async loop(listener: FeedListener): Promise<void> {
    const max = this.options.maxBackoffMs ?? 2000;
    const backoff = new DecorrelatedJitterBackoff({ baseMs: this.options.minBackoffMs ?? 100, capMs: max, random: this.options.random });
    while (!this.stopped) {
      const url = this.endpoints.current;
      let reason = 'the stream ended';
      let tokenProblem = false;
      try {
        this.following = url;
        await this.follow(url, listener, () => backoff.reset());
      } catch (error) {
        reason = this.leaving ?? (error as Error).message;
        tokenProblem = error instanceof TokenRefused;
      } finally {
        this.following = null;
        this.leaving = null;
      }
      // A token renewed meanwhile (a file, the client credentials grant) is tried at once.
      const refused = tokenProblem && this.options.token() === this.usedToken;
      listener.connected(false, reason);
      if (refused) listener.tokenRefused?.(reason);
      if (this.stopped) return;
      if (!tokenProblem) this.endpoints.failed(url, reason);
      await this.sleep(refused ? max : backoff.next(this.retryMs ?? 0));
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  private async follow(url: string, listener: FeedListener, onConnected: () => void): Promise<void> {
    this.abort = new AbortController();
    const target = new URL('/v1/revocations/stream', url);
    target.searchParams.set('after', String(this.position));
    const token = this.options.token();
    this.usedToken = token;
    const response = await request(target, {
      method: 'GET',
      headers: {
        ...(token !== null ? { authorization: `Bearer ${token}` } : {}),
        accept: 'text/event-stream',
        // The service resumes after Last-Event-ID when given: the last revocation sent, so the same point as `after`.
        ...(this.lastEventId !== null ? { 'last-event-id': this.lastEventId } : {}),
      },
      signal: this.abort.signal,
      dispatcher: this.options.dispatcher,
      bodyTimeout: this.options.idleTimeoutMs ?? 0,
      headersTimeout: this.options.connectTimeoutMs ?? 5000,
    });
    if (response.statusCode !== 200) {
      const body = await response.body.text().catch(() => '');
      const message = `the revocation stream of ${url} answered ${response.statusCode}: ${body.slice(0, 200)}`;
      throw response.statusCode === 401 ? new TokenRefused(message) : new Error(message);
    }
    onConnected();
    let ended: { reason?: string; message?: string } | null = null;
    const parser = createParser({
      onEvent: (message) => (ended = this.dispatch(message, listener, url) ?? ended),
      onRetry: (ms) => (this.retryMs = ms),
    });
    // undici's body yields Buffers; a streaming decoder keeps a character cut between two of them whole.
    const decoder = new TextDecoder('utf-8');
    for await (const chunk of response.body as AsyncIterable<Buffer>) parser.feed(decoder.decode(chunk, { stream: true }));
    if (ended !== null) {
      const { reason, message } = ended as { reason?: string; message?: string };
      const text = `the service at ${url} ended the stream: ${reason ?? 'no reason'} (${message ?? ''})`;
      throw reason === 'token_expired' ? new TokenRefused(text) : new Error(text);
    }
  }

  /** Hands on a revocation or heartbeat; returns the data of an `end` event, the stream's last. */
  private dispatch(message: EventSourceMessage, listener: FeedListener, url: string): { reason?: string; message?: string } | undefined {
    if (message.id !== undefined && POSITION_ID.test(message.id)) this.lastEventId = message.id;
    if (message.event === 'revocation') {
      const revocation = JSON.parse(message.data) as Revocation;
      listener.revocation(revocation);
      this.position = Math.max(this.position, revocation.position, message.id !== undefined && POSITION_ID.test(message.id) ? Number(message.id) : 0);
    } else if (message.event === 'heartbeat') {
      const beat = JSON.parse(message.data) as { position: number; head_position: number };
      this.position = Math.max(this.position, beat.position);
      listener.connected(true);
      listener.heartbeat(beat.position, beat.head_position, url);
    } else if (message.event === 'end') {
      try {
        return JSON.parse(message.data) as { reason?: string; message?: string };
      } catch {
        return {};
      }
    }
    return undefined;
  }
}
