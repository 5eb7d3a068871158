import { errors } from 'undici';

export type MoveListener = (from: string, to: string, reason: string) => void;

/**
 * The key service instances a gateway may ask, in order of preference, and the one it uses now.
 * Every instance of a fleet reads the same store, so any of them answers a verification and serves
 * the revocation feed from the same positions. The verification calls and the SSE feed share one
 * `current` instance: when either finds it failing, both move to the next one in the list (and
 * wrap around), so that a dead instance is left once, not by each caller separately, and the
 * answers the client caches come from the instance whose feed evicts them.
 */
export class ServiceEndpoints {
  readonly urls: readonly string[];
  private index = 0;
  private moveCount = 0;
  private readonly listeners = new Set<MoveListener>();

  /**
   * urls: http:// or https:// base URLs (a trailing slash is dropped), at least one, no repeats.
   * Throws an Error naming `what` (the option or variable the list came from) when one is malformed.
   */
  constructor(urls: readonly string[], what = 'serviceUrls') {
    this.urls = parseServiceUrls(urls, what);
  }

  /** `listener` is told (from, to, reason) each time `current` moves; returns the unsubscribe function. */
  onMove(listener: MoveListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The instance to ask now. */
  get current(): string {
    return this.urls[this.index];
  }

  /** How many times `current` has moved to another instance since the start. */
  get moves(): number {
    return this.moveCount;
  }

  /** Every instance once, the current one first: the order a call tries them in. */
  inOrder(): string[] {
    return this.urls.map((_, i) => this.urls[(this.index + i) % this.urls.length]);
  }

  /**
   * `url` failed (refused, reset, timed out, 502/503/504, a broken stream): if it is still the current instance, the next one
   * becomes current. A failure of an instance that is no longer current changes nothing, so two
   * callers that saw the same death move only once.
   */
  failed(url: string, reason: string): void {
    if (url !== this.current || this.urls.length === 1) return;
    const from = this.current;
    this.index = (this.index + 1) % this.urls.length;
    this.moveCount++;
    for (const listener of this.listeners) listener(from, this.current, reason);
  }
}

/**
 * A URL as an error may show it: the user, the password, the query and the fragment, where present,
 * each replaced by `***` (a token can sit in any of them). For text that is not a URL, the same parts
 * are found by their delimiters.
 */
export function maskUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.username) url.username = '***';
    if (url.password) url.password = '***';
    if (url.search) url.search = '***';
    if (url.hash) url.hash = '***';
    return url.href;
  } catch {
    return raw.replace(/(\/\/|^)[^/@\s]*@/, '$1***@').replace(/\?[^#]*/, '?***').replace(/#.*/, '#***');
  }
}

/**
 * A validated base URL: http(s), no credentials, query or fragment (a path is kept); written in WHATWG
 * URL's normal form (scheme and host lower-cased, default port dropped) without a trailing slash.
 * `what` names the setting in an error, `of` what the URL should point at ("a key service instance").
 * An error never repeats the credentials, query or fragment given in the URL (maskUrl).
 */
export function parseBaseUrl(raw: string, what: string, of: string): string {
  const masked = maskUrl(raw);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`${what}: "${masked}" is not a URL (an http:// or https:// URL of ${of})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${what}: "${masked.replace(/\/+$/, '')}" must be an http:// or https:// URL`);
  if (url.username || url.password || url.search || url.hash) {
    throw new Error(`${what}: "${masked.replace(/\/+$/, '')}" must not carry credentials, a query or a fragment`);
  }
  return url.href.replace(/\/+$/, '');
}

/**
 * Validated base URLs of key service instances (parseBaseUrl each), with no duplicates in their normal
 * form. An error never repeats a password given in a URL: it shows `***` in its place.
 */
export function parseServiceUrls(urls: readonly string[], what: string): string[] {
  if (urls.length === 0) throw new Error(`${what}: at least one key service URL is needed`);
  const parsed = urls.map((raw) => parseBaseUrl(raw, what, 'a key service instance'));
  const repeated = parsed.find((url, i) => parsed.indexOf(url) !== i);
  if (repeated !== undefined) throw new Error(`${what}: "${repeated}" is listed twice`);
  return parsed;
}

/**
 * Whether a failed call should be retried on another instance: the instance could not be reached
 * or did not answer in time (refused, reset, closed, timed out), or answered 502, 503 (not ready) or
 * 504. A 4xx is the caller's problem, and a 500 the service's answer to this request: every instance
 * runs the same code on the same store, so either would be the same anywhere, and moving on would
 * only rotate the whole fleet for one bad request.
 */
export function isInstanceFailure(failure: unknown): boolean {
  if (typeof failure === 'number') return failure === 502 || failure === 503 || failure === 504;
  if (
    failure instanceof errors.ConnectTimeoutError ||
    failure instanceof errors.HeadersTimeoutError ||
    failure instanceof errors.BodyTimeoutError ||
    failure instanceof errors.SocketError ||
    failure instanceof errors.HTTPParserError
  ) {
    return true;
  }
  const code = (failure as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|ENOTFOUND)$/.test(code);
}
