import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Agent, Dispatcher, Pool } from 'undici';
import { StaticTokenSource, TokenSource, tokenTimes } from './credentials/token-sources';
import { KafkaFeed, KafkaFeedOptions } from './feeds/kafka-feed';
import { SseFeed } from './feeds/sse-feed';
import { PositionFile } from './position-file';
import { ServiceEndpoints, isInstanceFailure } from './service-endpoints';
import { Feed, KeyLimits, Logger, Revocation, VerifyAnswer, VerifyCode, VerifyTarget } from './types';
import { LocalRateLimiter, RateDecision, RateLimiter } from './rate-limit/rate-limiter';
import { UsageBatchBody, UsageRefusal, UsageReporter } from './usage/usage-reporter';
import { VerificationCache } from './verification-cache';

export type FeedOptions =
  | { readonly kind: 'stream' }
  | {
      readonly kind: 'kafka';
      readonly brokers: readonly string[];
      readonly topic?: string;
      readonly groupId: string;
      /** kafkajs' ssl and sasl options (KafkaFeedOptions). */
      readonly ssl?: KafkaFeedOptions['ssl'];
      readonly sasl?: KafkaFeedOptions['sasl'];
    };

export interface GatewayClientOptions {
  /** One key service instance, e.g. http://127.0.0.1:8080. Give this or serviceUrls, not both. */
  readonly serviceUrl?: string;
  /**
   * The key service instances of a fleet (one store), in order of preference: verification calls and
   * the SSE feed use the first and move to the next (wrapping around) when the one in use fails:
   * connection refused, reset or timed out, or a 502, 503 (not ready) or 504. http:// or https:// base
   * URLs; the constructor throws an Error naming the bad one.
   */
  readonly serviceUrls?: readonly string[];
  /** A token with role `gateway`, given once. Or tokenSource; or neither, when the client certificate (tls) is the identity. */
  readonly token?: string;
  /** Where the token comes from when it changes: a file re-read on change, the OAuth 2.0 client credentials grant. */
  readonly tokenSource?: TokenSource;
  /**
   * TLS towards the key service (an https:// serviceUrl): `ca`, PEM, the CA its certificate is checked
   * against (else the system's); `cert` and `key`, PEM, a client certificate for mutual TLS, whose
   * URI SAN names the gateway (see the key service's README).
   */
  readonly tls?: { readonly ca?: string | Buffer; readonly cert?: string | Buffer; readonly key?: string | Buffer };
  /**
   * readiness() warns (`token_expiring`) once the token has less than this many ms left; unset: less
   * than a tenth of its lifetime (exp - iat).
   */
  readonly tokenExpiryWarningMs?: number;
  readonly feed: FeedOptions;
  /** Fail closed: after this long without a revocation or heartbeat, cached answers are not trusted. */
  readonly maxFeedSilenceMs?: number;
  readonly validTtlMs?: number;
  readonly invalidTtlMs?: number;
  readonly maxCacheEntries?: number;
  /** Keeps the feed position across restarts; without it a start begins at the feed's head. */
  readonly positionFile?: string;
  /** A verification call's time limit per instance, ms (headers and body); default 2000. */
  readonly requestTimeoutMs?: number;
  /**
   * SSE feed: drop a stream that sent nothing (not even a heartbeat) for this long, ms, and move to the
   * next instance; default maxFeedSilenceMs. Keep it above the service's REVOCATION_HEARTBEAT_MS.
   */
  readonly feedIdleTimeoutMs?: number;
  /** SSE feed reconnect delays, ms: decorrelated jitter between min and max (defaults 100 and 2000); see SseFeed. */
  readonly feedMinBackoffMs?: number;
  readonly feedMaxBackoffMs?: number;
  readonly logger?: Logger;
  /**
   * Counts the requests of keys with a rate limit: in this process by default (each gateway instance
   * on its own), or a RedisRateLimiter shared by every gateway. The client closes it on stop().
   */
  readonly rateLimiter?: RateLimiter;
  /**
   * Report usage to the key service (POST /v1/usage) this often, ms: per key, minute and model, the
   * requests let through, the tokens recordUsage was given and the denials by code. 0 or unset: no reports.
   */
  readonly usageReportIntervalMs?: number;
  /** The gateway's name in usage reports (a random part per process is added); default host and pid. */
  readonly gatewayId?: string;
}

export interface GatewayClientStatus {
  /** The last feed position applied: every revocation up to it has been evicted. */
  readonly position: number;
  /** The feed's own position, from its last heartbeat. */
  readonly headPosition: number;
  readonly lag: number;
  readonly lastContactAgeMs: number | null;
  readonly feedConnected: boolean;
  /** Why the service last refused the token (expired, invalid), until the feed connects again; else null. */
  readonly tokenRefused: string | null;
  /** False: the feed is silent or down for longer than maxFeedSilenceMs, so the cache is bypassed. */
  readonly feedFresh: boolean;
  readonly startedFrom: number;
  readonly cacheSize: number;
  readonly cacheHits: number;
  readonly serviceCalls: number;
  readonly failClosed: number;
  /** Valid keys refused with RATE_LIMITED. */
  readonly rateLimited: number;
  /** Whether rate limits are counted in this process or in a shared store (Redis). */
  readonly rateLimiter: 'local' | 'shared';
  /** Usage reports: the gateway id they carry, batches taken, failed sends; null when off. */
  readonly usageReports: { readonly gatewayId: string; readonly sent: number; readonly failures: number } | null;
  /** The instance verification calls go to first now. */
  readonly serviceUrl: string;
  /** The instance whose SSE feed sent the last heartbeat, while connected; null otherwise (and on Kafka). */
  readonly feedServiceUrl: string | null;
  /** How many times the client moved to another instance because the one in use failed. */
  readonly serviceMoves: number;
}

const silentLogger: Logger = { log: () => undefined, warn: () => undefined };

/** Whether the gateway can verify keys now (its /readyz); when it cannot, why. */
export type GatewayReadiness =
  | { readonly ready: true; readonly warning?: { readonly reason: 'token_expiring'; readonly message: string } }
  | { readonly ready: false; readonly reason: 'token_expired' | 'token_refused' | 'service_unreachable'; readonly message: string };

/**
 * Verification for a gateway: answers from a local cache while the revocation feed is known to be
 * live, asks the key service otherwise, and denies when neither can be trusted. Every revocation
 * evicts the answers for its hashes. Emits 'revocation' (revocation, evicted answers) after each
 * eviction, 'feed' (connected, reason) when the feed's state changes, 'token' (reason) when the
 * service refuses its token or ends the feed because the token expired, and 'failover' (from, to,
 * reason) when it leaves a failing instance for the next one of serviceUrls.
 *
 * With several instances, an online answer is cached only when it came from the instance the SSE feed
 * follows and that instance's views had reached the client's position (its heartbeat's head): an
 * instance that lags behind a revocation the client already applied could answer from before it, and
 * the feed would never evict that answer.
 */
export class GatewayClient extends EventEmitter {
  private readonly cache: VerificationCache;
  private readonly endpoints: ServiceEndpoints;
  /** One connection pool per instance, by base URL. */
  private readonly pools = new Map<string, Pool>();
  private readonly agent: Agent;
  private readonly tokens: TokenSource | null;
  private readonly feed: Feed;
  private readonly positionFile: PositionFile | null;
  private readonly logger: Logger;
  private readonly maxSilenceMs: number;
  private position = 0;
  private head = 0;
  private startedFrom = 0;
  private lastContact: number | null = null;
  private connected = false;
  private tokenProblem: string | null = null;
  /** The last time the key service answered (a verification, the feed's head, or the SSE feed itself). */
  private lastServiceAnswer: number | null = null;
  /** Since when verification calls fail (fail closed), until one succeeds. */
  private serviceFailingSince: number | null = null;
  /** The instance the SSE feed is connected to (from its heartbeats) and the head it last reported. */
  private feedSource: string | null = null;
  private feedSourceHead = 0;
  private counters = { cacheHits: 0, serviceCalls: 0, failClosed: 0, rateLimited: 0 };
  private readonly limiter: RateLimiter;
  private readonly usage: UsageReporter | null;

  constructor(private readonly options: GatewayClientOptions) {
    super();
    this.logger = options.logger ?? silentLogger;
    this.limiter = options.rateLimiter ?? new LocalRateLimiter();
    this.usage =
      (options.usageReportIntervalMs ?? 0) > 0
        ? new UsageReporter((batch) => this.sendUsage(batch), {
            intervalMs: options.usageReportIntervalMs!,
            gatewayId: options.gatewayId,
            onError: (message) => this.logger.warn(message),
          })
        : null;
    this.maxSilenceMs = options.maxFeedSilenceMs ?? 15_000;
    this.cache = new VerificationCache({
      validTtlMs: options.validTtlMs ?? 300_000,
      invalidTtlMs: options.invalidTtlMs ?? 30_000,
      maxEntries: options.maxCacheEntries ?? 100_000,
    });
    if (options.serviceUrl !== undefined && options.serviceUrls !== undefined) throw new Error('serviceUrl, serviceUrls: give one of them, not both');
    this.endpoints = new ServiceEndpoints(
      options.serviceUrls ?? (options.serviceUrl !== undefined ? [options.serviceUrl] : []),
      options.serviceUrls !== undefined ? 'serviceUrls' : 'serviceUrl',
    );
    this.endpoints.onMove((from, to, reason) => this.onFailover(from, to, reason));
    // A host that does not answer at all is given up after the call's time limit, not undici's 10 s.
    const connect = { timeout: options.requestTimeoutMs ?? 2000, ...(options.tls ? { ca: options.tls.ca, cert: options.tls.cert, key: options.tls.key } : {}) };
    for (const url of this.endpoints.urls) this.pools.set(url, new Pool(new URL(url).origin, { connections: 32, pipelining: 1, connect }));
    this.agent = new Agent({ connect });
    this.tokens = options.tokenSource ?? (options.token !== undefined ? new StaticTokenSource(options.token) : null);
    this.positionFile = options.positionFile ? new PositionFile(options.positionFile) : null;
    this.feed =
      options.feed.kind === 'stream'
        ? new SseFeed({
            serviceUrls: this.endpoints,
            token: () => this.tokens?.current() ?? null,
            dispatcher: this.agent,
            idleTimeoutMs: options.feedIdleTimeoutMs ?? this.maxSilenceMs,
            minBackoffMs: options.feedMinBackoffMs,
            maxBackoffMs: options.feedMaxBackoffMs,
          })
        : new KafkaFeed({
            brokers: options.feed.brokers,
            topic: options.feed.topic,
            groupId: options.feed.groupId,
            ...(options.feed.ssl !== undefined ? { ssl: options.feed.ssl } : {}),
            ...(options.feed.sasl !== undefined ? { sasl: options.feed.sasl } : {}),
          });
  }

  /** Starts following the feed from the saved position, or else from the feed's current head. */
  async start(): Promise<void> {
    await this.tokens?.start();
    const saved = this.positionFile?.read() ?? null;
    this.position = saved ?? (await this.fetchHead());
    this.startedFrom = this.position;
    this.usage?.start();
    this.logger.log(`following revocations (${this.options.feed.kind}) from position ${this.position}${saved === null ? ' (the head)' : ' (saved)'}`);
    await this.feed.start(this.position, {
      revocation: (revocation) => this.onRevocation(revocation),
      heartbeat: (position, head, source) => this.onHeartbeat(position, head, source),
      connected: (connected, reason) => this.onConnected(connected, reason),
      tokenRefused: (reason) => this.onTokenRefused(reason),
    });
  }

  async stop(): Promise<void> {
    await this.feed.stop();
    this.tokens?.stop();
    this.positionFile?.flush();
    await this.usage?.stop();
    await this.limiter.close?.();
    await Promise.all([...this.pools.values()].map((pool) => pool.close()));
    await this.agent.close();
  }

  /** Resolves once the feed is live (a heartbeat arrived) or rejects after `timeoutMs`. */
  waitUntilFresh(timeoutMs = 10_000): Promise<void> {
    if (this.isFresh(Date.now())) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('heartbeat', onBeat);
        reject(new Error(`the revocation feed did not become live within ${timeoutMs} ms`));
      }, timeoutMs);
      const onBeat = () => {
        clearTimeout(timer);
        this.off('heartbeat', onBeat);
        resolve();
      };
      this.on('heartbeat', onBeat);
    });
  }

  /**
   * The cached answer, if one may be trusted now; no I/O. A key with a rate limit is counted (and may be
   * RATE_LIMITED) when the limiter is in process; with a shared one, such an answer is left to verify()
   * (undefined here).
   */
  verifyCached(secret: string, target: VerifyTarget = {}): VerifyAnswer | undefined {
    const answer = this.fromCache(hashOf(secret), target);
    if (answer === undefined || !rateLimited(answer)) return answer;
    if (!this.limiter.local) return undefined;
    return this.decided(answer, this.limiter.take(answer.keyUuid!, answer.limits!, Date.now()) as RateDecision);
  }

  /**
   * May this secret make this call? A valid answer for a key with requests_per_minute or
   * tokens_per_minute is counted, and refused with RATE_LIMITED (and retryAfterMs) over the limit.
   */
  verify(secret: string, target: VerifyTarget = {}): Promise<VerifyAnswer> {
    const hash = hashOf(secret);
    const cached = this.fromCache(hash, target);
    if (cached !== undefined && this.usage === null) return rateLimited(cached) ? this.limit(cached) : Promise.resolve(cached);
    const answer = cached !== undefined ? Promise.resolve(cached) : this.verifyOnline(secret, hash, target);
    return answer.then((found) => (rateLimited(found) ? this.limit(found) : found)).then((final) => this.counted(final, target));
  }

  /** The answer, counted in the usage report: a request let through, or a denial of a known key. */
  private counted(answer: VerifyAnswer, target: VerifyTarget): VerifyAnswer {
    if (this.usage !== null && answer.keyUuid !== undefined) {
      if (answer.valid) this.usage.request(answer.keyUuid, target.model, Date.now());
      else this.usage.denial(answer.keyUuid, target.model, answer.code, Date.now());
    }
    return answer;
  }

  /** POST /v1/usage; a refusal (status and message) for an answer that a retry would not change (a 4xx but 401, 408, 429). */
  private async sendUsage(batch: UsageBatchBody): Promise<'taken' | UsageRefusal> {
    const { response } = await this.callService({
      path: '/v1/usage',
      method: 'POST',
      headers: { ...this.authorization(), 'content-type': 'application/json' },
      body: JSON.stringify(batch),
      headersTimeout: this.options.requestTimeoutMs ?? 2000,
      bodyTimeout: this.options.requestTimeoutMs ?? 2000,
    });
    const text = await response.body.text();
    if (response.statusCode === 200) return 'taken';
    if (response.statusCode >= 400 && response.statusCode < 500 && ![401, 408, 429].includes(response.statusCode)) {
      // The service's error ({id, message, request_id}) says why; it carries no secret.
      return { refused: `${response.statusCode}: ${answerMessage(text).slice(0, 200)}` };
    }
    throw new Error(`POST /v1/usage answered ${response.statusCode}: ${text.slice(0, 200)}`);
  }

  /** Usage reporting: its gateway id, batches taken and failed sends; null when reports are off. */
  usageReports(): { gatewayId: string; sent: number; failures: number } | null {
    return this.usage === null ? null : { gatewayId: this.usage.gatewayId, sent: this.usage.sent, failures: this.usage.failures };
  }

  /**
   * Charges what an answer used to its key's tokens_per_minute, from the upstream's `usage`
   * (prompt_tokens + completion_tokens): the call that crosses the budget has passed, the key's next
   * one is refused until the minute has room again. Nothing for a key without a token limit.
   */
  async recordUsage(
    answer: VerifyAnswer,
    usage: { readonly promptTokens: number; readonly completionTokens: number; readonly model?: string },
  ): Promise<void> {
    if (answer.keyUuid === undefined) return;
    const input = Math.max(0, usage.promptTokens);
    const output = Math.max(0, usage.completionTokens);
    this.usage?.tokens(answer.keyUuid, usage.model, input, output, Date.now());
    const perMinute = answer.limits?.tokensPerMinute ?? null;
    if (perMinute !== null) await this.limiter.charge(answer.keyUuid, perMinute, input + output, Date.now());
  }

  private async limit(answer: VerifyAnswer): Promise<VerifyAnswer> {
    return this.decided(answer, await this.limiter.take(answer.keyUuid!, answer.limits!, Date.now()));
  }

  private decided(answer: VerifyAnswer, decision: RateDecision): VerifyAnswer {
    if (decision.allowed) return answer;
    this.counters.rateLimited++;
    return { ...answer, valid: false, code: 'RATE_LIMITED', retryAfterMs: decision.retryAfterMs, limit: decision.limit };
  }

  private fromCache(hash: string, target: VerifyTarget): VerifyAnswer | undefined {
    const now = Date.now();
    if (!this.isFresh(now)) return undefined;
    const answer = this.cache.get(hash, target, now);
    if (answer !== undefined) this.counters.cacheHits++;
    return answer;
  }

  status(): GatewayClientStatus {
    const now = Date.now();
    return {
      position: this.position,
      headPosition: this.head,
      lag: Math.max(0, this.head - this.position),
      lastContactAgeMs: this.lastContact === null ? null : now - this.lastContact,
      feedConnected: this.connected,
      tokenRefused: this.tokenProblem,
      feedFresh: this.isFresh(now),
      startedFrom: this.startedFrom,
      cacheSize: this.cache.size,
      ...this.counters,
      rateLimiter: this.limiter.local ? 'local' : 'shared',
      usageReports: this.usageReports(),
      serviceUrl: this.endpoints.current,
      feedServiceUrl: this.feedSource,
      serviceMoves: this.endpoints.moves,
    };
  }

  /**
   * Not ready when the gateway can no longer verify: its token has expired (by its `exp`) or was refused
   * by the service, or the service has not answered for longer than maxFeedSilenceMs (verification
   * calls failing closed for that long, or, on the SSE feed, no heartbeat from it).
   */
  readiness(now = Date.now()): GatewayReadiness {
    const token = this.tokens?.current() ?? null;
    const times = token === null ? null : tokenTimes(token);
    const expiresAt = times === null ? null : times.exp * 1000;
    if (expiresAt !== null && now >= expiresAt) {
      return { ready: false, reason: 'token_expired', message: `the gateway token expired at ${new Date(expiresAt).toISOString()}: give the gateway a new one` };
    }
    if (this.tokenProblem !== null) return { ready: false, reason: 'token_refused', message: `the key service refused the gateway token: ${this.tokenProblem}` };
    const bound = this.maxSilenceMs;
    if (this.serviceFailingSince !== null && now - this.serviceFailingSince > bound) {
      // No traffic reaches an unready gateway, so no verify call would ever clear this: probe the service.
      this.probeService(now);
      return { ready: false, reason: 'service_unreachable', message: `verification calls have failed for ${now - this.serviceFailingSince} ms (bound ${bound} ms)` };
    }
    if (this.options.feed.kind === 'stream' && (this.lastServiceAnswer === null || now - this.lastServiceAnswer > bound)) {
      const silence = this.lastServiceAnswer === null ? 'never answered' : `not answered for ${now - this.lastServiceAnswer} ms`;
      return { ready: false, reason: 'service_unreachable', message: `the key service has ${silence} (bound ${bound} ms)` };
    }
    if (times !== null && expiresAt !== null) {
      const margin = this.options.tokenExpiryWarningMs ?? (times.iat === null ? 0 : ((times.exp - times.iat) * 1000) / 10);
      if (expiresAt - now <= margin) {
        const left = Math.round((expiresAt - now) / 1000);
        return {
          ready: true,
          warning: { reason: 'token_expiring', message: `the gateway token expires at ${new Date(expiresAt).toISOString()} (${left} s left) and has not been renewed` },
        };
      }
    }
    return { ready: true };
  }

  private lastProbe = 0;

  /**
   * At most once a second while verification calls are failing: GET /readyz of the key service; a 200
   * means it can answer again, and the failure is forgotten (readiness follows at once). An instance
   * that does not answer 200 is left for the next one, which the next probe asks.
   */
  private probeService(now: number): void {
    if (now - this.lastProbe < 1000) return;
    this.lastProbe = now;
    const url = this.endpoints.current;
    this.pools
      .get(url)!
      .request({ path: '/readyz', method: 'GET', headers: this.authorization(), headersTimeout: 2000, bodyTimeout: 2000 })
      .then(async (response) => {
        await response.body.dump();
        if (response.statusCode === 200) {
          this.serviceFailingSince = null;
          this.lastServiceAnswer = Date.now();
        } else {
          this.endpoints.failed(url, `its /readyz answered ${response.statusCode}`);
        }
      })
      .catch((error: Error) => this.endpoints.failed(url, error.message)); // the next readiness check probes the next one
  }

  /**
   * A call to the key service: to the current instance, then to each other one in turn while the one
   * asked fails as an instance (refused, reset, timed out, 502/503/504), which moves `current` on. Any other
   * answer, 4xx included, is returned with the instance that gave it. Throws the last failure when
   * every instance failed.
   */
  private async callService(
    options: Omit<Dispatcher.RequestOptions, 'origin'>,
  ): Promise<{ url: string; response: Dispatcher.ResponseData }> {
    let failure: Error | null = null;
    for (const url of this.endpoints.inOrder()) {
      try {
        const response = await this.pools.get(url)!.request(options);
        if (!isInstanceFailure(response.statusCode)) return { url, response };
        const text = await response.body.text().catch(() => '');
        failure = new Error(`${url} answered ${response.statusCode}: ${text.slice(0, 200)}`);
      } catch (error) {
        if (!isInstanceFailure(error)) throw error;
        failure = new Error(`${url}: ${(error as Error).message}`);
      }
      this.endpoints.failed(url, failure.message);
    }
    throw failure ?? new Error('no key service instance to ask');
  }

  /** The Authorization header of a call to the key service; none when the client certificate is the identity. */
  private authorization(): Record<string, string> {
    const token = this.tokens?.current() ?? null;
    return token === null ? {} : { authorization: `Bearer ${token}` };
  }

  private isFresh(now: number): boolean {
    return this.connected && this.lastContact !== null && now - this.lastContact <= this.maxSilenceMs;
  }

  private async verifyOnline(secret: string, hash: string, target: VerifyTarget): Promise<VerifyAnswer> {
    const generation = this.cache.generation;
    const positionAtCall = this.position;
    this.counters.serviceCalls++;
    let answer: VerifyAnswer;
    let answeredBy: string;
    try {
      const { url, response } = await this.callService({
        path: '/v1/keys/verify',
        method: 'POST',
        headers: { ...this.authorization(), 'content-type': 'application/json' },
        body: JSON.stringify({
          key: secret,
          model: target.model,
          vpc_uuid: target.vpcUuid,
          deployment_name: target.deploymentName,
          batch: target.batch,
        }),
        headersTimeout: this.options.requestTimeoutMs ?? 2000,
        bodyTimeout: this.options.requestTimeoutMs ?? 2000,
      });
      const body = (await response.body.json()) as {
        valid: boolean;
        code: VerifyCode;
        key_uuid?: string;
        team_id?: string;
        expires_at?: string | null;
        secret_ends_at?: string;
        limits?: LimitsBody | null;
        resets_at?: string | null;
        message?: string;
      };
      if (response.statusCode !== 200) throw new Error(`verify answered ${response.statusCode}: ${body.message ?? ''}`);
      answeredBy = url;
      this.lastServiceAnswer = Date.now();
      this.serviceFailingSince = null;
      answer = {
        valid: body.valid,
        code: body.code,
        keyUuid: body.key_uuid,
        teamId: body.team_id,
        expiresAt: body.expires_at,
        ...(body.secret_ends_at !== undefined ? { secretEndsAt: body.secret_ends_at } : {}),
        limits: limitsOf(body.limits),
        ...(body.code === 'USAGE_EXCEEDED' ? { resetsAt: body.resets_at ?? null } : {}),
        source: 'service',
      };
    } catch (error) {
      this.counters.failClosed++;
      this.serviceFailingSince ??= Date.now();
      this.logger.warn(`verification failed closed: ${(error as Error).message}`);
      return { valid: false, code: 'SERVICE_UNAVAILABLE', source: 'fail-closed' };
    }
    // Cached only while the feed can evict it; an answer whose hash was revoked meanwhile is not kept.
    // DEPLOYMENT_NOT_ALLOWED is not kept either: an attach, which no revocation announces, lifts it.
    if (answer.code !== 'DEPLOYMENT_NOT_ALLOWED' && this.isFresh(Date.now()) && this.answeredCurrent(answeredBy, positionAtCall)) {
      this.cache.put(hash, target, answer, generation, Date.now());
    }
    return answer;
  }

  /**
   * Whether an answer of instance `url` reflects every revocation up to `position`, so that the feed
   * evicts it should a later one revoke it: on the SSE feed, the instance must be the one the feed
   * follows, and its head at or past the position. On Kafka the relay's instance is not known; the
   * instances are taken to be caught up (see the README on Kafka with several instances).
   */
  private answeredCurrent(url: string, position: number): boolean {
    if (this.options.feed.kind !== 'stream') return true;
    return url === this.feedSource && this.feedSourceHead >= position;
  }

  private onRevocation(revocation: Revocation): void {
    this.lastContact = Date.now();
    // The instance sent it, so its views have reached it.
    if (this.feedSource !== null) this.feedSourceHead = Math.max(this.feedSourceHead, revocation.position);
    if (revocation.position <= this.position) return; // seen before: at-least-once delivery
    const evicted = this.cache.evict(revocation.secret_hashes);
    this.position = revocation.position;
    this.head = Math.max(this.head, revocation.position);
    this.positionFile?.write(this.position);
    this.emit('revocation', revocation, evicted);
  }

  private onHeartbeat(position: number, head: number, source?: string): void {
    this.lastContact = Date.now();
    if (source !== undefined) {
      this.feedSource = source;
      this.feedSourceHead = head;
    }
    if (this.options.feed.kind === 'stream') {
      // A heartbeat of the stream is the key service answering.
      this.lastServiceAnswer = this.lastContact;
      this.serviceFailingSince = null;
    }
    this.head = Math.max(this.head, head);
    if (position > this.position) {
      this.position = position;
      this.positionFile?.write(this.position);
    }
    this.emit('heartbeat', position, head);
  }

  private onConnected(connected: boolean, reason?: string): void {
    if (connected === this.connected) return;
    this.connected = connected;
    if (!connected) {
      // Nothing cached can be trusted once revocations may have been missed.
      this.cache.clear();
      this.feedSource = null;
      this.feedSourceHead = 0;
      this.logger.warn(`revocation feed disconnected (${reason ?? 'unknown'}); verifying online until it is back`);
    } else {
      this.tokenProblem = null;
      this.logger.log(`revocation feed connected at position ${this.position}`);
    }
    this.emit('feed', connected, reason);
  }

  /** Said once until the feed connects again, not on every one of the feed's slow retries. */
  private onTokenRefused(reason: string): void {
    if (this.tokenProblem === null) {
      this.logger.warn(`the key service refused the gateway token (${reason}): give the client a new token; failing closed until then`);
      this.emit('token', reason);
    }
    this.tokenProblem = reason;
  }

  private onFailover(from: string, to: string, reason: string): void {
    this.logger.warn(`key service instance ${from} failed (${reason}); moving to ${to}`);
    this.emit('failover', from, to, reason);
  }

  private async fetchHead(): Promise<number> {
    const { response } = await this.callService({
      path: '/v1/revocations?after=0&limit=1',
      method: 'GET',
      headers: this.authorization(),
    });
    const body = (await response.body.json()) as { head_position?: number; message?: string };
    if (response.statusCode !== 200 || typeof body.head_position !== 'number') {
      throw new Error(`cannot read the revocation feed's head: ${response.statusCode} ${body.message ?? ''}`);
    }
    this.lastServiceAnswer = Date.now();
    return body.head_position;
  }
}

interface LimitsBody {
  requests_per_minute?: number | null;
  tokens_per_minute?: number | null;
  quota?: { requests?: number | null; tokens?: number | null; period: 'day' | 'month' | 'none' } | null;
}

function limitsOf(body: LimitsBody | null | undefined): KeyLimits | null {
  if (!body) return null;
  const quota = body.quota ?? null;
  return {
    requestsPerMinute: body.requests_per_minute ?? null,
    tokensPerMinute: body.tokens_per_minute ?? null,
    quota: quota === null ? null : { requests: quota.requests ?? null, tokens: quota.tokens ?? null, period: quota.period },
  };
}

/** A valid answer for a key with a rate limit: one the limiter counts. */
function rateLimited(answer: VerifyAnswer): boolean {
  const limits = answer.limits;
  return answer.valid && limits != null && (limits.requestsPerMinute !== null || limits.tokensPerMinute !== null) && answer.keyUuid !== undefined;
}

function hashOf(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** The `message` of the key service's error answer (`{id, message, request_id}`), else the answer's text as it is. */
function answerMessage(text: string): string {
  try {
    const message = (JSON.parse(text) as { message?: unknown } | null)?.message;
    if (typeof message === 'string') return message;
    if (Array.isArray(message)) return message.join('; ');
  } catch {
    // not JSON: the text itself
  }
  return text;
}
