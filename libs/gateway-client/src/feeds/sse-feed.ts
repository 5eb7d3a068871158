import { Dispatcher, request } from 'undici';
import { Feed, FeedListener, Revocation } from '../types';

export interface SseFeedOptions {
  readonly serviceUrl: string;
  /** The bearer token for each (re)connect, or null to go without (the client certificate is the identity). */
  readonly token: () => string | null;
  readonly dispatcher?: Dispatcher;
  /** Wait before reconnecting; doubles up to maxBackoffMs. */
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

/** The service refused the token, or ended the stream because it expired: retrying needs a new one. */
class TokenRefused extends Error {}

/**
 * Follows GET /v1/revocations/stream (Server-Sent Events). After a disconnect it reconnects with
 * `after` = the last position it delivered, so nothing between is lost and nothing is repeated.
 * The service ends a stream with an `end` event saying why (`token_expired`, `shutdown`). After a
 * refused or expired token it reports `tokenRefused` and retries only every maxBackoffMs: an
 * expired token stays expired, so a fast retry would only hammer the service.
 */
export class SseFeed implements Feed {
  private stopped = false;
  private abort: AbortController | null = null;
  private running: Promise<void> | null = null;
  private position = 0;
  /** The token the current or last connection was opened with. */
  private usedToken: string | null = null;

  constructor(private readonly options: SseFeedOptions) {}

  async start(position: number, listener: FeedListener): Promise<void> {
    this.position = position;
    this.running = this.loop(listener);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort?.abort();
    await this.running;
  }

  private async loop(listener: FeedListener): Promise<void> {
    const min = this.options.minBackoffMs ?? 100;
    const max = this.options.maxBackoffMs ?? 2000;
    let backoff = min;
    while (!this.stopped) {
      let reason = 'the stream ended';
      let refused = false;
      try {
        await this.follow(listener, () => (backoff = min));
      } catch (error) {
        reason = (error as Error).message;
        refused = error instanceof TokenRefused;
      }
      // A token renewed meanwhile (a file, the client credentials grant) is tried at once.
      if (refused && this.options.token() !== this.usedToken) refused = false;
      listener.connected(false, reason);
      if (refused) listener.tokenRefused?.(reason);
      if (this.stopped) return;
      if (refused) backoff = max;
      await new Promise((resolve) => setTimeout(resolve, backoff));
      backoff = Math.min(backoff * 2, max);
    }
  }

  private async follow(listener: FeedListener, onConnected: () => void): Promise<void> {
    this.abort = new AbortController();
    const url = new URL('/v1/revocations/stream', this.options.serviceUrl);
    url.searchParams.set('after', String(this.position));
    const token = this.options.token();
    this.usedToken = token;
    const response = await request(url, {
      method: 'GET',
      headers: { ...(token !== null ? { authorization: `Bearer ${token}` } : {}), accept: 'text/event-stream' },
      signal: this.abort.signal,
      dispatcher: this.options.dispatcher,
      bodyTimeout: 0,
      headersTimeout: 5000,
    });
    if (response.statusCode !== 200) {
      const body = await response.body.text().catch(() => '');
      const message = `the revocation stream answered ${response.statusCode}: ${body.slice(0, 200)}`;
      throw response.statusCode === 401 ? new TokenRefused(message) : new Error(message);
    }
    onConnected();
    let ended: { reason?: string; message?: string } | null = null;
    let buffer = '';
    response.body.setEncoding('utf8');
    for await (const chunk of response.body as AsyncIterable<string>) {
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        ended = this.dispatch(block, listener) ?? ended;
      }
    }
    if (ended !== null) {
      const message = `the service ended the stream: ${ended.reason ?? 'no reason'} (${ended.message ?? ''})`;
      throw ended.reason === 'token_expired' ? new TokenRefused(message) : new Error(message);
    }
  }

  /** Hands on a revocation or heartbeat; returns the data of an `end` event, the stream's last. */
  private dispatch(block: string, listener: FeedListener): { reason?: string; message?: string } | undefined {
    let event = 'message';
    let data = '';
    for (const line of block.split('\n')) {
      if (line.startsWith('event:')) event = line.slice(6).trim();
      else if (line.startsWith('data:')) data += line.slice(5).trim();
    }
    if (event === 'revocation') {
      const revocation = JSON.parse(data) as Revocation;
      listener.revocation(revocation);
      this.position = Math.max(this.position, revocation.position);
    } else if (event === 'heartbeat') {
      const beat = JSON.parse(data) as { position: number; head_position: number };
      this.position = Math.max(this.position, beat.position);
      listener.connected(true);
      listener.heartbeat(beat.position, beat.head_position);
    } else if (event === 'end') {
      try {
        return JSON.parse(data) as { reason?: string; message?: string };
      } catch {
        return {};
      }
    }
    return undefined;
  }
}
