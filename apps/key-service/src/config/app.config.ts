import * as path from 'node:path';
import * as os from 'node:os';
import { randomBytes } from 'node:crypto';
import { EVENT_STORE_KINDS, EventStoreSettings } from '@lib/event-store';
import { ConfigError } from './config-error';
import { ConsoleOidcConfig, IdentityProviderConfig, consoleOidcOf, identityProviderOf } from './identity.config';
import { KafkaSecurity, kafkaSecurityOf } from './kafka-security.config';
import { secretOf } from './secrets.config';

export { ConfigError } from './config-error';
import { TlsConfig, tlsConfigOf, trustProxyOf } from './tls.config';

/** The one place that reads process.env: validated once at boot. */
export const APP_CONFIG = Symbol('APP_CONFIG');

export interface AppConfig {
  readonly nodeEnv: 'development' | 'production' | 'test';
  readonly host: string;
  readonly port: number;
  readonly grpcPort: number;
  /**
   * METRICS_PORT: serve /metrics on this port (on HOST) instead of the HTTP port, where it then is a
   * 404. null (unset): /metrics is on the HTTP port, without a token.
   */
  readonly metricsPort: number | null;
  readonly dataDir: string;
  /** EVENT_STORE (sqlite, the default, in DATA_DIR/events.db), DATABASE_URL, KURRENTDB_CONNECTION_STRING. */
  readonly eventStore: EventStoreSettings;
  /** AUTH_JWT_SECRET (or AUTH_JWT_SECRET_FILE): signs and verifies the service's own HS256 tokens. */
  readonly jwtSecret: string;
  /**
   * AUTH_JWT_PREVIOUS_SECRETS (or _FILE), comma-separated: secrets still accepted for verification, never
   * used to sign, while tokens signed before a rotation run out. Empty by default.
   */
  readonly jwtPreviousSecrets: readonly string[];
  /** True when AUTH_JWT_SECRET was not set and the development default is in use. */
  readonly jwtSecretIsDefault: boolean;
  /** AUTH_JWKS_URL and friends: tokens from an OpenID Connect provider. null: only the service's own tokens. */
  readonly identityProvider: IdentityProviderConfig | null;
  /** CONSOLE_OIDC_CLIENT_ID, CONSOLE_OIDC_SCOPES: the console signs in through that provider. null: it does not. */
  readonly consoleOidc: ConsoleOidcConfig | null;
  /**
   * AUTH_MAX_TOKEN_TTL_S, in seconds: the longest lifetime a bearer token may have (exp - iat, or exp - now
   * when iat is absent). A token without exp, or living longer, is refused.
   */
  readonly maxTokenTtlSeconds: number;
  /**
   * PUBLIC_BASE_URL: the service's address as its clients reach it (scheme, host and an optional path
   * prefix, no trailing slash), for absolute links in answers. null: links are relative (path and query).
   * Never taken from the request's Host header, which the client controls.
   */
  readonly publicBaseUrl: string | null;
  /** 32 bytes, base64; absent outside production means: generate one under DATA_DIR. */
  readonly keyEncryptionKey: string | null;
  readonly logLevel: 'error' | 'warn' | 'log' | 'debug';
  /** LOG_FORMAT: `json` (one object a line) or `text` (for a person); default: text on a terminal, else json. */
  readonly logFormat: 'json' | 'text';
  /** How often an open revocation stream (SSE, gRPC) and the Kafka relay say they are alive. */
  readonly revocationHeartbeatMs: number;
  /** The expiry scheduler's longest sleep; it also wakes at the next due expiry. */
  readonly expiryScanMs: number;
  /**
   * How long the usage store keeps each bucket, in days: minute buckets USAGE_RETENTION_DAYS (default 35),
   * then rolled up into hours; hour buckets USAGE_HOURLY_RETENTION_DAYS (default 400), then into days.
   */
  readonly usageRetention: { readonly minuteDays: number; readonly hourDays: number };
  /**
   * LEASE_TTL_MS, in ms (default 10,000; 1,000 to 600,000): within how long after a leader of a singleton job
   * (the Kafka relay, the expiry scheduler, the data-key sweep) dies another instance takes the job over
   * (fleet/leadership.ts). Only matters with a shared store (PostgreSQL, KurrentDB).
   */
  readonly leaseTtlMs: number;
  /**
   * INSTANCE_ID: this instance's name as a lease holder (1-128 of `A-Za-z0-9._:-`); default
   * `<hostname>:<pid>:<random>`, so that a restarted process is a new holder.
   */
  readonly instanceId: string;
  /** null: no Kafka relay (the embedded default; gateways use the stream). */
  readonly kafka: KafkaConfig | null;
  /** Where partner provider keys are checked before they are stored (`GET {base}/v1/models`). */
  readonly providers: ProvidersConfig;
  /** How long a client may take to send a request, and how many connections may be open at once. */
  readonly http: HttpLimitsConfig;
  /**
   * SHUTDOWN_DRAIN_MS, in ms: after SIGTERM/SIGINT, /readyz answers 503 while requests are still served
   * this long, so that a load balancer takes the instance out before it stops accepting. Default 5000 with
   * NODE_ENV=production, else 0 (Ctrl-C and tests stop at once).
   */
  readonly shutdownDrainMs: number;
  /** TLS_CERT_FILE and the rest (config/tls.config.ts): HTTPS and gRPC over TLS; null: both plain. */
  readonly tls: TlsConfig | null;
  /**
   * TRUST_PROXY: when X-Forwarded-For, -Proto and -Host are believed (Fastify's trustProxy): false
   * (unset), a hop count, or the addresses and CIDR ranges of trusted proxies. Only then does the
   * audited source IP come from X-Forwarded-For, and only then are paging links built from the
   * forwarded scheme and host (PUBLIC_BASE_URL, when set, still wins).
   */
  readonly trustProxy: false | number | readonly string[];
  /** null: no traces (the default; no tracing code runs). See TracingConfig. */
  readonly tracing: TracingConfig | null;
}

/**
 * OpenTelemetry's own variables (https://opentelemetry.io/docs/specs/otel/protocol/exporter/ and
 * .../configuration/sdk-environment-variables/): OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (the whole URL), or
 * OTEL_EXPORTER_OTLP_ENDPOINT (a base URL, to which `/v1/traces` is appended), turn traces on;
 * OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none turn them off again. The SDK's own variables
 * (OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT, OTEL_TRACES_SAMPLER, OTEL_BSP_*) are checked here too.
 */
export interface TracingConfig {
  /** Where spans are POSTed, as OTLP/HTTP JSON. */
  readonly tracesUrl: string;
  /** OTEL_SERVICE_NAME, default `key-service`: the `service.name` of every span. */
  readonly serviceName: string;
  /** OTEL_BSP_SCHEDULE_DELAY, in ms (default 5000): how long finished spans wait to be sent in a batch. */
  readonly exportDelayMs: number;
}

export interface HttpLimitsConfig {
  /** HTTP_REQUEST_TIMEOUT_MS, in ms: the whole request (headers and body) must arrive within it, else 408. */
  readonly requestTimeoutMs: number;
  /** HTTP_HEADERS_TIMEOUT_MS, in ms: the headers must arrive within it, else 408; at most the request timeout. */
  readonly headersTimeoutMs: number;
  /** HTTP_KEEP_ALIVE_TIMEOUT_MS, in ms: an idle keep-alive connection is closed after it. */
  readonly keepAliveTimeoutMs: number;
  /**
   * HTTP_MAX_CONNECTIONS: open HTTP connections at most; one more is closed at once. null: the
   * process's open-file limit less a reserve for its own files (see connection-limits.ts).
   */
  readonly maxConnections: number | null;
}

export interface ProvidersConfig {
  readonly anthropicBaseUrl: string;
  readonly openaiBaseUrl: string;
  readonly verifyTimeoutMs: number;
}

export interface KafkaConfig extends KafkaSecurity {
  readonly brokers: readonly string[];
  readonly clientId: string;
  /** One partition, compacted: the feed's order is global, and consumers drop what they saw by position. */
  readonly revocationsTopic: string;
}

export const DEVELOPMENT_JWT_SECRET = 'development-only-secret-do-not-use-in-production';

/** 365 days in seconds: the README's deployment mints the gateway's token with --ttl 31536000. */
export const DEFAULT_MAX_TOKEN_TTL_S = 31_536_000;

/** logTerminal: whether the logs go to a terminal (LOG_FORMAT's default is text there); keyctl logs on stderr. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, logTerminal: boolean = process.stdout.isTTY === true): AppConfig {
  const nodeEnv = oneOf(env, 'NODE_ENV', ['development', 'production', 'test'] as const, 'development');
  const jwt = secretOf(env, 'AUTH_JWT_SECRET');
  if (jwt !== undefined && jwt.length < 32) {
    throw new ConfigError('AUTH_JWT_SECRET', 'must be at least 32 characters');
  }
  const previous = (secretOf(env, 'AUTH_JWT_PREVIOUS_SECRETS') ?? '').split(',').map((p) => p.trim()).filter(Boolean);
  previous.forEach((secret, i) => {
    if (secret.length < 32) throw new ConfigError('AUTH_JWT_PREVIOUS_SECRETS', `each secret must be at least 32 characters (number ${i + 1} is not)`);
  });
  if (jwt === undefined && nodeEnv === 'production') {
    throw new ConfigError('AUTH_JWT_SECRET', 'is required when NODE_ENV=production');
  }
  // The development secret is in this repository: in production, anyone could mint tokens with it.
  if (nodeEnv === 'production' && jwt === DEVELOPMENT_JWT_SECRET) {
    throw new ConfigError('AUTH_JWT_SECRET', 'is the published development secret: make one with openssl rand -base64 48');
  }
  if (nodeEnv === 'production' && previous.includes(DEVELOPMENT_JWT_SECRET)) {
    throw new ConfigError('AUTH_JWT_PREVIOUS_SECRETS', 'holds the published development secret: tokens signed with it must not be accepted in production');
  }
  const kek = secretOf(env, 'KEY_ENCRYPTION_KEY')?.trim();
  if (kek !== undefined && !(BASE64.test(kek) && Buffer.from(kek, 'base64').length === 32)) {
    throw new ConfigError('KEY_ENCRYPTION_KEY', 'must be 32 bytes in base64 (44 characters; make one with: openssl rand -base64 32)');
  }
  if (kek === undefined && nodeEnv === 'production') {
    throw new ConfigError('KEY_ENCRYPTION_KEY', 'is required when NODE_ENV=production (32 bytes in base64)');
  }
  const port = portOf(env, 'PORT', 8080);
  const grpcPort = portOf(env, 'GRPC_PORT', 50051);
  if (port !== 0 && port === grpcPort) throw new ConfigError('GRPC_PORT', `must differ from PORT (${port})`);
  const metricsPort = env.METRICS_PORT === undefined || env.METRICS_PORT === '' ? null : portOf(env, 'METRICS_PORT', 0);
  if (metricsPort !== null && metricsPort !== 0 && (metricsPort === port || metricsPort === grpcPort)) {
    throw new ConfigError('METRICS_PORT', `must differ from PORT (${port}) and GRPC_PORT (${grpcPort})`);
  }
  const identityProvider = identityProviderOf(env, nodeEnv === 'production');
  const dataDir = env.DATA_DIR ?? './data';
  if (dataDir.trim() === '') throw new ConfigError('DATA_DIR', 'must not be empty');
  return {
    nodeEnv,
    host: env.HOST ?? '127.0.0.1',
    port,
    grpcPort,
    metricsPort,
    dataDir: path.resolve(dataDir),
    eventStore: eventStoreOf(env, path.resolve(dataDir)),
    jwtSecret: jwt ?? DEVELOPMENT_JWT_SECRET,
    jwtPreviousSecrets: previous.filter((p) => p !== jwt),
    jwtSecretIsDefault: jwt === undefined,
    identityProvider,
    consoleOidc: consoleOidcOf(env, identityProvider, nodeEnv === 'production'),
    maxTokenTtlSeconds: integerOf(env, 'AUTH_MAX_TOKEN_TTL_S', DEFAULT_MAX_TOKEN_TTL_S, 60, 10 * DEFAULT_MAX_TOKEN_TTL_S),
    publicBaseUrl: publicBaseUrlOf(env),
    keyEncryptionKey: kek ?? null,
    logLevel: oneOf(env, 'LOG_LEVEL', ['error', 'warn', 'log', 'debug'] as const, 'log'),
    logFormat: oneOf(env, 'LOG_FORMAT', ['json', 'text'] as const, logTerminal ? 'text' : 'json'),
    revocationHeartbeatMs: integerOf(env, 'REVOCATION_HEARTBEAT_MS', 5000, 50, 600_000),
    expiryScanMs: integerOf(env, 'EXPIRY_SCAN_MS', 1000, 10, 3_600_000),
    usageRetention: usageRetentionOf(env),
    leaseTtlMs: integerOf(env, 'LEASE_TTL_MS', 10_000, 1000, 600_000),
    instanceId: instanceIdOf(env),
    kafka: kafkaOf(env),
    providers: {
      anthropicBaseUrl: baseUrlOf(env, 'ANTHROPIC_API_BASE_URL', 'https://api.anthropic.com'),
      openaiBaseUrl: baseUrlOf(env, 'OPENAI_API_BASE_URL', 'https://api.openai.com'),
      verifyTimeoutMs: integerOf(env, 'PROVIDER_VERIFY_TIMEOUT_MS', 10_000, 100, 120_000),
    },
    http: httpLimitsOf(env),
    shutdownDrainMs: integerOf(env, 'SHUTDOWN_DRAIN_MS', nodeEnv === 'production' ? 5000 : 0, 0, 600_000),
    tls: tlsConfigOf(env, (variable, message) => new ConfigError(variable, message)),
    trustProxy: trustProxyOf(env, (variable, message) => new ConfigError(variable, message)),
    tracing: tracingOf(env),
  };
}

/** OTEL_TRACES_SAMPLER values of the SDK's environment specification. */
const OTEL_SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'] as const;

function tracingOf(env: NodeJS.ProcessEnv): TracingConfig | null {
  const disabled = oneOf(env, 'OTEL_SDK_DISABLED', ['true', 'false'] as const, 'false');
  const exporter = oneOf(env, 'OTEL_TRACES_EXPORTER', ['otlp', 'none'] as const, 'otlp');
  // The variables the SDK and its exporter read themselves are checked here, so that a typo stops start-up
  // instead of being ignored by the SDK.
  const headers = env.OTEL_EXPORTER_OTLP_TRACES_HEADERS ?? env.OTEL_EXPORTER_OTLP_HEADERS;
  if (headers && !headers.split(',').every((pair) => /^[^=\s]+=.+$/.test(pair.trim()))) {
    throw new ConfigError(env.OTEL_EXPORTER_OTLP_TRACES_HEADERS ? 'OTEL_EXPORTER_OTLP_TRACES_HEADERS' : 'OTEL_EXPORTER_OTLP_HEADERS', 'must be key=value pairs separated by commas (W3C Baggage format)');
  }
  for (const name of ['OTEL_EXPORTER_OTLP_TIMEOUT', 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', 'OTEL_BSP_MAX_QUEUE_SIZE', 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 'OTEL_BSP_EXPORT_TIMEOUT']) {
    integerOf(env, name, 0, 1, 10_000_000);
  }
  oneOf(env, 'OTEL_TRACES_SAMPLER', OTEL_SAMPLERS, 'parentbased_always_on');
  if (disabled === 'true' || exporter === 'none') return null;
  const whole = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (!whole && !base) return null;
  const name = whole ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' : 'OTEL_EXPORTER_OTLP_ENDPOINT';
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL)?.trim();
  if (protocol && protocol !== 'http/json') {
    throw new ConfigError(env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL' : 'OTEL_EXPORTER_OTLP_PROTOCOL', `must be http/json, the protocol this service exports with (got "${protocol}")`);
  }
  // Credentials belong in OTEL_EXPORTER_OTLP_HEADERS (never logged); a query would end up before /v1/traces.
  // The value is not echoed: it may hold a key.
  if (bareHttpUrl((whole ?? base) as string) === null) {
    throw new ConfigError(name, 'must be an http or https URL without credentials, query or fragment (put an API key in OTEL_EXPORTER_OTLP_HEADERS)');
  }
  const url = ((whole ?? base) as string).replace(/\/+$/, '');
  return {
    tracesUrl: whole ? url : `${url}/v1/traces`,
    serviceName: env.OTEL_SERVICE_NAME?.trim() || 'key-service',
    exportDelayMs: integerOf(env, 'OTEL_BSP_SCHEDULE_DELAY', 5000, 1, 600_000),
  };
}

function httpLimitsOf(env: NodeJS.ProcessEnv): HttpLimitsConfig {
  const requestTimeoutMs = integerOf(env, 'HTTP_REQUEST_TIMEOUT_MS', 30_000, 100, 3_600_000);
  const headersTimeoutMs = integerOf(env, 'HTTP_HEADERS_TIMEOUT_MS', Math.min(10_000, requestTimeoutMs), 100, 3_600_000);
  // Node refuses a headers timeout longer than the request timeout.
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new ConfigError('HTTP_HEADERS_TIMEOUT_MS', `must not exceed HTTP_REQUEST_TIMEOUT_MS (${requestTimeoutMs}; got "${headersTimeoutMs}")`);
  }
  const maxConnections = env.HTTP_MAX_CONNECTIONS === undefined || env.HTTP_MAX_CONNECTIONS === '' ? null : integerOf(env, 'HTTP_MAX_CONNECTIONS', 0, 1, 1_000_000);
  return {
    requestTimeoutMs,
    headersTimeoutMs,
    keepAliveTimeoutMs: integerOf(env, 'HTTP_KEEP_ALIVE_TIMEOUT_MS', 72_000, 100, 3_600_000),
    maxConnections,
  };
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** An http(s) URL without a trailing slash: the provider's `/v1/models` is appended to it. */
function baseUrlOf(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const raw = env[name]?.trim() || fallback;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, `must be an http or https URL (got "${raw}")`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(name, `must be an http or https URL (got "${raw}")`);
  return raw.replace(/\/+$/, '');
}

/** An http(s) origin with an optional path prefix; no query, fragment or credentials, since links append to it. */
/** `raw` as a URL when it is http(s) without credentials, query or fragment (something is appended to it); else null. */
function bareHttpUrl(raw: string): URL | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  const bare = (url.protocol === 'http:' || url.protocol === 'https:') && url.username === '' && url.password === '' && url.search === '' && url.hash === '';
  return bare && !raw.includes('?') && !raw.includes('#') ? url : null;
}

function publicBaseUrlOf(env: NodeJS.ProcessEnv): string | null {
  const raw = env.PUBLIC_BASE_URL?.trim();
  if (!raw) return null;
  const url = bareHttpUrl(raw);
  if (url === null) {
    throw new ConfigError('PUBLIC_BASE_URL', `must be an http or https URL without query, fragment or credentials, such as https://keys.example.com (got "${raw}")`);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

function eventStoreOf(env: NodeJS.ProcessEnv, dataDir: string): EventStoreSettings {
  const kind = oneOf(env, 'EVENT_STORE', EVENT_STORE_KINDS, 'sqlite');
  const databaseUrl = secretOf(env, 'DATABASE_URL')?.trim() || null;
  const kurrentdb = secretOf(env, 'KURRENTDB_CONNECTION_STRING')?.trim() || null;
  if (kind === 'postgres') {
    if (databaseUrl === null) throw new ConfigError('DATABASE_URL', 'is required when EVENT_STORE=postgres (postgres://user:password@host:5432/database)');
    if (!/^postgres(ql)?:\/\//.test(databaseUrl)) throw new ConfigError('DATABASE_URL', 'must be a postgres:// or postgresql:// URL');
  }
  if (kind === 'kurrentdb') {
    if (kurrentdb === null) {
      throw new ConfigError('KURRENTDB_CONNECTION_STRING', 'is required when EVENT_STORE=kurrentdb (kurrentdb://host:2113?tls=false)');
    }
    if (!/^(kurrentdb|kdb|esdb|eventstore)(\+discover)?:\/\//.test(kurrentdb)) {
      throw new ConfigError('KURRENTDB_CONNECTION_STRING', 'must be a kurrentdb://, kdb:// or esdb:// connection string');
    }
  }
  return { kind, sqliteFile: path.join(dataDir, 'events.db'), databaseUrl, kurrentdbConnectionString: kurrentdb };
}

function kafkaOf(env: NodeJS.ProcessEnv): KafkaConfig | null {
  const raw = env.KAFKA_BROKERS?.trim();
  if (!raw) return null;
  const brokers = raw.split(',').map((b) => b.trim());
  for (const broker of brokers) {
    if (!/^[A-Za-z0-9.-]+:\d{1,5}$/.test(broker)) {
      throw new ConfigError('KAFKA_BROKERS', `must be a comma-separated list of host:port (got "${broker}")`);
    }
  }
  const topic = env.KAFKA_REVOCATIONS_TOPIC?.trim() || 'model-keys.revocations.v1';
  if (!/^[A-Za-z0-9._-]{1,249}$/.test(topic)) {
    throw new ConfigError('KAFKA_REVOCATIONS_TOPIC', `must be 1-249 letters, digits, dots, underscores or hyphens (got "${topic}")`);
  }
  return {
    brokers,
    clientId: env.KAFKA_CLIENT_ID?.trim() || 'model-key-service',
    revocationsTopic: topic,
    ...kafkaSecurityOf(env),
  };
}

function usageRetentionOf(env: NodeJS.ProcessEnv): { minuteDays: number; hourDays: number } {
  const minuteDays = integerOf(env, 'USAGE_RETENTION_DAYS', 35, 1, 36_500);
  const hourDays = integerOf(env, 'USAGE_HOURLY_RETENTION_DAYS', Math.max(400, minuteDays), 1, 36_500);
  if (hourDays < minuteDays) throw new ConfigError('USAGE_HOURLY_RETENTION_DAYS', `must be at least USAGE_RETENTION_DAYS (${minuteDays})`);
  return { minuteDays, hourDays };
}

function integerOf(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(name, `must be an integer from ${min} to ${max} (got "${raw}")`);
  }
  return Number(raw);
}

function portOf(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) > 65535) {
    throw new ConfigError(name, `must be an integer from 0 to 65535 (got "${raw}")`);
  }
  return Number(raw);
}

function oneOf<T extends string>(env: NodeJS.ProcessEnv, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(name, `must be one of ${allowed.join(', ')} (got "${raw}")`);
  }
  return raw as T;
}

/** INSTANCE_ID, or `<hostname>:<pid>:<8 hex>`: a restarted process must not inherit its old leases by name. */
function instanceIdOf(env: NodeJS.ProcessEnv): string {
  const given = env.INSTANCE_ID;
  if (given === undefined || given === '') return `${os.hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  if (!/^[A-Za-z0-9._:-]{1,128}$/.test(given)) throw new ConfigError('INSTANCE_ID', 'must be 1-128 characters of A-Z a-z 0-9 . _ : -');
  return given;
}
