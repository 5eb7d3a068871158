import * as fs from 'node:fs';
import { Dispatcher, request } from 'undici';
import { Logger } from '../types';

/**
 * Where a gateway's bearer token comes from. `current()` is read on every call to the key service,
 * so a source may change its token at any time; null: no token (the client certificate is the
 * gateway's identity).
 */
export interface TokenSource {
  /** Fetches or reads the first token; rejects when there is none to start with. */
  start(): Promise<void>;
  current(): string | null;
  stop(): void;
}

/** A token given once (GATEWAY_TOKEN): it is not renewed, so it must outlive the gateway's run. */
export class StaticTokenSource implements TokenSource {
  constructor(private readonly token: string) {}
  async start(): Promise<void> {}
  current(): string {
    return this.token;
  }
  stop(): void {}
}

/**
 * A token in a file (GATEWAY_TOKEN_FILE), as a mounted secret is: read at start, and again whenever
 * the file changes (stat polled every `pollMs`, which also sees a Kubernetes secret's symlink swap).
 * Surrounding whitespace is dropped. An unreadable or empty file, or one that holds no JWT (three
 * base64url parts: what the key service accepts), later keeps the token read before and logs a warning.
 */
export class FileTokenSource implements TokenSource {
  private token: string | null = null;

  constructor(
    private readonly file: string,
    private readonly logger: Logger,
    private readonly pollMs = 1000,
  ) {}

  async start(): Promise<void> {
    this.token = this.read();
    if (this.token === null) throw new Error(`GATEWAY_TOKEN_FILE: ${this.file} is empty, cannot be read, or holds no JWT`);
    fs.watchFile(this.file, { interval: this.pollMs, persistent: false }, this.onChange);
  }

  current(): string | null {
    return this.token;
  }

  stop(): void {
    fs.unwatchFile(this.file, this.onChange);
  }

  private readonly onChange = (): void => {
    const next = this.read();
    if (next === null) {
      this.logger.warn(`GATEWAY_TOKEN_FILE ${this.file} is empty, cannot be read, or holds no JWT: keeping the token read before`);
    } else if (next !== this.token) {
      this.token = next;
      this.logger.log(`GATEWAY_TOKEN_FILE ${this.file} changed: using the new token`);
    }
  };

  private read(): string | null {
    try {
      const text = fs.readFileSync(this.file, 'utf8').trim();
      return JWT_SHAPE.test(text) ? text : null;
    } catch {
      return null;
    }
  }
}

/** The OAuth 2.0 client credentials grant (RFC 6749 section 4.4) against an identity provider's token endpoint. */
export interface ClientCredentialsOptions {
  readonly tokenUrl: string;
  readonly clientId: string;
  /** The secret itself, or a function that reads it (a mounted file) each time a token is fetched. */
  readonly clientSecret: string | (() => string);
  readonly scope?: string;
  /** Sent as `audience` (Auth0, Okta and others name the API a token is for this way). */
  readonly audience?: string;
  /** Renew when this fraction of the token's lifetime (`expires_in`) has passed; default 0.8. */
  readonly refreshAt?: number;
  readonly dispatcher?: Dispatcher;
  readonly logger: Logger;
}

/**
 * Fetches a token with the client credentials grant (client id and secret in HTTP Basic, as RFC 6749
 * section 2.3.1 asks servers to support) and fetches the next one before it expires: after
 * `refreshAt` of its `expires_in`. A failed renewal is retried every few seconds (doubling to 30 s)
 * while the current token lasts; the gateway's readiness says when it is about to expire.
 */
export class ClientCredentialsTokenSource implements TokenSource {
  private token: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly options: ClientCredentialsOptions) {}

  async start(): Promise<void> {
    const lifetimeS = await this.fetch();
    this.schedule(lifetimeS * (this.options.refreshAt ?? 0.8) * 1000, 1000);
  }

  current(): string | null {
    return this.token;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
  }

  private schedule(delayMs: number, retryMs: number): void {
    if (this.stopped) return;
    // Node fires a timer longer than 2^31 - 1 ms (24.8 days) at once: a long-lived token would be fetched in a loop.
    this.timer = setTimeout(() => {
      this.fetch().then(
        (lifetimeS) => this.schedule(lifetimeS * (this.options.refreshAt ?? 0.8) * 1000, 1000),
        (error: Error) => {
          this.options.logger.warn(`renewing the gateway token at ${this.options.tokenUrl} failed (${error.message}); retrying in ${retryMs} ms`);
          this.schedule(retryMs, Math.min(retryMs * 2, 30_000));
        },
      );
    }, Math.min(delayMs, MAX_TIMER_MS));
    this.timer.unref();
  }

  /** One grant; answers the new token's lifetime in seconds. */
  private async fetch(): Promise<number> {
    const { clientId, clientSecret, scope, audience } = this.options;
    const secret = typeof clientSecret === 'function' ? clientSecret() : clientSecret;
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (scope) form.set('scope', scope);
    if (audience) form.set('audience', audience);
    // RFC 6749 section 2.3.1: the id and secret are form-urlencoded before they are joined for Basic.
    const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64');
    const response = await request(this.options.tokenUrl, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: form.toString(),
      dispatcher: this.options.dispatcher,
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
    const text = await response.body.text();
    let body: { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new Error(`the token endpoint answered ${response.statusCode} without JSON`);
    }
    if (response.statusCode !== 200 || typeof body.access_token !== 'string' || body.access_token === '') {
      const reason = typeof body.error === 'string' ? `${body.error}${typeof body.error_description === 'string' ? `: ${body.error_description}` : ''}` : 'no access_token';
      throw new Error(`the token endpoint answered ${response.statusCode} (${reason})`);
    }
    this.token = body.access_token;
    // The shorter of expires_in and the token's own exp (a provider may announce more than the token
    // holds); with neither, renew hourly.
    const announced = typeof body.expires_in === 'number' && Number.isFinite(body.expires_in) && body.expires_in > 0 ? body.expires_in : null;
    const held = lifetimeOf(body.access_token);
    const expiresIn = announced !== null && held !== null ? Math.min(announced, held) : (announced ?? held ?? 3600);
    this.options.logger.log(`gateway token fetched from ${this.options.tokenUrl} (client credentials), valid for ${Math.round(expiresIn)} s`);
    return expiresIn;
  }
}

/** A compact JWS (RFC 7515 section 7.1): header, payload and signature in base64url. */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** setTimeout's longest delay: 2^31 - 1 ms. */
const MAX_TIMER_MS = 2_147_483_647;

/** A JWT's `exp` and `iat` in epoch seconds, read without verifying (the key service verifies); null when it has none. */
export function tokenTimes(token: string): { exp: number; iat: number | null } | null {
  try {
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: unknown; iat?: unknown };
    return typeof claims.exp === 'number' ? { exp: claims.exp, iat: typeof claims.iat === 'number' ? claims.iat : null } : null;
  } catch {
    return null;
  }
}

function lifetimeOf(token: string): number | null {
  const times = tokenTimes(token);
  return times === null ? null : Math.max(1, times.exp - Date.now() / 1000);
}
