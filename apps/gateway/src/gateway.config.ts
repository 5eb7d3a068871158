import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FeedOptions, maskUrl, parseBaseUrl, parseServiceUrls } from '@lib/gateway-client';
import { ConfigError } from '../../key-service/src/config/config-error';
import { kafkaSecurityOf } from '../../key-service/src/config/kafka-security.config';

export interface GatewayConfig {
  readonly host: string;
  readonly port: number;
  /**
   * KEY_SERVICE_URL: the key service instances, in order of preference (a comma-separated list; one
   * URL as before). The client moves to the next when the one in use fails.
   */
  readonly serviceUrls: readonly string[];
  /** How the gateway proves who it is to the key service: exactly one token way, and/or its client certificate. */
  readonly credentials: GatewayCredentials;
  /** KEY_SERVICE_TLS_*: PEM file paths for an https:// KEY_SERVICE_URL; null each when unset. */
  readonly serviceTls: { readonly caFile: string | null; readonly certFile: string | null; readonly keyFile: string | null };
  /** GATEWAY_TOKEN_EXPIRY_WARNING_S in ms: /readyz warns within it of the token's expiry; null: a tenth of its lifetime. */
  readonly tokenExpiryWarningMs: number | null;
  /**
   * UPSTREAM_URL in its normal form, without a trailing slash: an http(s) origin and an optional base
   * path (`http://vllm:8000`, `https://host/openai`); never credentials, a query or a fragment.
   */
  readonly upstreamUrl: string;
  /** UPSTREAM_URL's path, prefixed to each route forwarded (`/openai` + `/v1/chat/completions`); '' for none. */
  readonly upstreamBasePath: string;
  readonly upstreamApiKey: string | null;
  readonly feed: FeedOptions;
  /** The dedicated deployment this gateway fronts; absent: serverless inference. */
  readonly deploymentName: string | null;
  /** The VPC this gateway's traffic comes from, presented on every verification. */
  readonly vpcUuid: string | null;
  readonly stateDir: string;
  readonly maxFeedSilenceMs: number;
  readonly validTtlMs: number;
  /**
   * RATE_LIMIT_REDIS_URL: a redis:// or rediss:// URL; rate limits are then counted in that Redis,
   * shared by every gateway using it. null: each gateway instance counts its own traffic.
   */
  readonly rateLimitRedisUrl: string | null;
  /** GATEWAY_USAGE_REPORT_MS: how often usage is reported to the key service (POST /v1/usage); 0: never. */
  readonly usageReportMs: number;
  /** GATEWAY_SHUTDOWN_GRACE_MS: how long answers in flight may run on after SIGTERM before every connection is cut. */
  readonly shutdownGraceMs: number;
  /** GATEWAY_ID: this gateway's name in usage reports (a random part per process is added); null: host and pid. */
  readonly gatewayId: string | null;
  /** LOG_FORMAT, as the key service's: `json` lines, or `text` (the default on a terminal). */
  readonly logFormat: 'json' | 'text';
}

/**
 * GATEWAY_TOKEN (a token given once), GATEWAY_TOKEN_FILE (re-read when it changes), or the OAuth 2.0
 * client credentials grant (GATEWAY_OAUTH_*); `none`: the client certificate (KEY_SERVICE_TLS_CERT_FILE) alone.
 */
export type GatewayCredentials =
  | { readonly kind: 'token'; readonly token: string }
  | { readonly kind: 'token-file'; readonly file: string }
  | {
      readonly kind: 'client-credentials';
      readonly tokenUrl: string;
      readonly clientId: string;
      /** Read when a token is fetched: GATEWAY_OAUTH_CLIENT_SECRET, or the file GATEWAY_OAUTH_CLIENT_SECRET_FILE names. */
      readonly clientSecret: () => string;
      readonly scope: string | null;
      readonly audience: string | null;
    }
  | { readonly kind: 'none' };

export class GatewayConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

export function loadGatewayConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const port = integer(env, 'GATEWAY_PORT', 8081, 0, 65535);
  const feedKind = env.GATEWAY_FEED ?? 'stream';
  if (feedKind !== 'stream' && feedKind !== 'kafka') throw new GatewayConfigError('GATEWAY_FEED', `must be stream or kafka (got "${feedKind}")`);
  let feed: FeedOptions = { kind: 'stream' };
  if (feedKind === 'kafka') {
    const brokers = (env.KAFKA_BROKERS ?? '').split(',').map((b) => b.trim()).filter(Boolean);
    if (brokers.length === 0) throw new GatewayConfigError('KAFKA_BROKERS', 'is required when GATEWAY_FEED=kafka');
    feed = {
      kind: 'kafka',
      brokers,
      topic: env.KAFKA_REVOCATIONS_TOPIC || undefined,
      groupId: env.GATEWAY_GROUP_ID || `model-keys-gateway-${os.hostname()}-${port}`,
      // KAFKA_SSL*, KAFKA_SASL_* (and _FILE variants), read as the key service's relay reads them.
      ...gatewayError(() => kafkaSecurityOf(env)),
    };
  }
  const serviceUrls = urlList(env, 'KEY_SERVICE_URL', 'http://127.0.0.1:8080');
  const serviceTls = {
    caFile: readableFile(env, 'KEY_SERVICE_TLS_CA_FILE'),
    certFile: readableFile(env, 'KEY_SERVICE_TLS_CERT_FILE'),
    keyFile: readableFile(env, 'KEY_SERVICE_TLS_KEY_FILE'),
  };
  if ((serviceTls.certFile === null) !== (serviceTls.keyFile === null)) {
    throw new GatewayConfigError(serviceTls.certFile === null ? 'KEY_SERVICE_TLS_CERT_FILE' : 'KEY_SERVICE_TLS_KEY_FILE', 'is required with the other: a client certificate and its key');
  }
  const plain = serviceUrls.find((serviceUrl) => !serviceUrl.startsWith('https:'));
  if (plain !== undefined) {
    const set = Object.entries({ KEY_SERVICE_TLS_CA_FILE: serviceTls.caFile, KEY_SERVICE_TLS_CERT_FILE: serviceTls.certFile }).find(([, v]) => v !== null);
    if (set) throw new GatewayConfigError(set[0], `needs an https:// KEY_SERVICE_URL, each of them (got "${plain}")`);
  }
  return {
    host: env.GATEWAY_HOST ?? '127.0.0.1',
    port,
    serviceUrls,
    credentials: credentialsOf(env, serviceTls.certFile !== null),
    serviceTls,
    tokenExpiryWarningMs: env.GATEWAY_TOKEN_EXPIRY_WARNING_S ? integer(env, 'GATEWAY_TOKEN_EXPIRY_WARNING_S', 0, 1, 31_536_000) * 1000 : null,
    ...upstreamOf(env),
    upstreamApiKey: env.UPSTREAM_API_KEY || null,
    feed,
    deploymentName: env.GATEWAY_DEPLOYMENT_NAME || null,
    vpcUuid: env.GATEWAY_VPC_UUID || null,
    stateDir: path.resolve(env.GATEWAY_STATE_DIR ?? './gateway-data'),
    maxFeedSilenceMs: integer(env, 'FEED_MAX_SILENCE_MS', 15_000, 100, 3_600_000),
    validTtlMs: integer(env, 'CACHE_TTL_MS', 300_000, 0, 86_400_000),
    rateLimitRedisUrl: redisUrl(env, 'RATE_LIMIT_REDIS_URL'),
    usageReportMs: integer(env, 'GATEWAY_USAGE_REPORT_MS', 1000, 0, 1000),
    shutdownGraceMs: integer(env, 'GATEWAY_SHUTDOWN_GRACE_MS', 10_000, 0, 600_000),
    gatewayId: gatewayIdOf(env),
    logFormat: logFormatOf(env),
  };
}

function gatewayError<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof ConfigError) throw new GatewayConfigError(error.variable, error.message.slice(error.variable.length + 2));
    throw error;
  }
}

const TOKEN_WAYS = ['GATEWAY_TOKEN', 'GATEWAY_TOKEN_FILE', 'GATEWAY_OAUTH_TOKEN_URL'] as const;

function credentialsOf(env: NodeJS.ProcessEnv, hasClientCertificate: boolean): GatewayCredentials {
  const given = TOKEN_WAYS.filter((name) => env[name]);
  if (given.length > 1) throw new GatewayConfigError(given[1], `set one of ${TOKEN_WAYS.join(', ')}, not several (${given.join(' and ')} are set)`);
  if (env.GATEWAY_TOKEN) return { kind: 'token', token: env.GATEWAY_TOKEN };
  if (env.GATEWAY_TOKEN_FILE) return { kind: 'token-file', file: path.resolve(env.GATEWAY_TOKEN_FILE) };
  if (env.GATEWAY_OAUTH_TOKEN_URL) {
    const tokenUrl = url(env, 'GATEWAY_OAUTH_TOKEN_URL', undefined);
    const clientId = env.GATEWAY_OAUTH_CLIENT_ID;
    if (!clientId) throw new GatewayConfigError('GATEWAY_OAUTH_CLIENT_ID', 'is required with GATEWAY_OAUTH_TOKEN_URL');
    const secret = env.GATEWAY_OAUTH_CLIENT_SECRET;
    const secretFile = readableFile(env, 'GATEWAY_OAUTH_CLIENT_SECRET_FILE');
    if ((secret ? 1 : 0) + (secretFile ? 1 : 0) !== 1) {
      throw new GatewayConfigError('GATEWAY_OAUTH_CLIENT_SECRET', 'set it or GATEWAY_OAUTH_CLIENT_SECRET_FILE (one of them) with GATEWAY_OAUTH_TOKEN_URL');
    }
    return {
      kind: 'client-credentials',
      tokenUrl,
      clientId,
      clientSecret: secretFile !== null ? () => fs.readFileSync(secretFile, 'utf8').trim() : () => secret as string,
      scope: env.GATEWAY_OAUTH_SCOPE || null,
      audience: env.GATEWAY_OAUTH_AUDIENCE || null,
    };
  }
  if (hasClientCertificate) return { kind: 'none' };
  throw new GatewayConfigError(
    'GATEWAY_TOKEN',
    'is required unless GATEWAY_TOKEN_FILE, GATEWAY_OAUTH_TOKEN_URL or a client certificate (KEY_SERVICE_TLS_CERT_FILE) is set: a token with role gateway (npm run --silent keyctl -- token --role gateway ...)',
  );
}

/** A path to a file that can be read now, or null when the variable is unset. */
function readableFile(env: NodeJS.ProcessEnv, name: string): string | null {
  const value = env[name];
  if (!value) return null;
  try {
    fs.accessSync(value, fs.constants.R_OK);
  } catch {
    throw new GatewayConfigError(name, `cannot read ${value}`);
  }
  return path.resolve(value);
}

function url(env: NodeJS.ProcessEnv, name: string, fallback: string | undefined): string {
  const value = env[name] || fallback;
  if (!value) throw new GatewayConfigError(name, 'is required (an http:// or https:// URL)');
  try {
    const parsed = new URL(value);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error();
  } catch {
    throw new GatewayConfigError(name, `must be an http:// or https:// URL (got "${maskUrl(value)}")`);
  }
  return value.replace(/\/$/, '');
}

/**
 * UPSTREAM_URL, checked as KEY_SERVICE_URL is (parseBaseUrl): http(s), no credentials (they would be
 * logged and never sent: UPSTREAM_API_KEY is the way to authenticate), no query or fragment; a base
 * path is kept and prefixed to every route forwarded.
 */
function upstreamOf(env: NodeJS.ProcessEnv): { upstreamUrl: string; upstreamBasePath: string } {
  const name = 'UPSTREAM_URL';
  const value = env[name];
  if (!value) throw new GatewayConfigError(name, 'is required (an http:// or https:// URL)');
  let upstreamUrl: string;
  try {
    upstreamUrl = parseBaseUrl(value, name, 'the upstream');
  } catch (error) {
    throw new GatewayConfigError(name, (error as Error).message.slice(name.length + 2));
  }
  return { upstreamUrl, upstreamBasePath: new URL(upstreamUrl).pathname.replace(/\/+$/, '') };
}

/**
 * A comma-separated list of key service base URLs, checked as the gateway client checks them: http(s),
 * no credentials, query or fragment, no repeats; a trailing slash is dropped.
 */
function urlList(env: NodeJS.ProcessEnv, name: string, fallback: string): string[] {
  const raw = env[name] || fallback;
  const items = raw.split(',').map((item) => item.trim());
  if (items.some((item) => item === '')) throw new GatewayConfigError(name, `has an empty entry (got "${raw}"): a comma-separated list of http:// or https:// URLs`);
  try {
    return parseServiceUrls(items, name);
  } catch (error) {
    throw new GatewayConfigError(name, (error as Error).message.slice(name.length + 2));
  }
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new GatewayConfigError(name, `must be an integer from ${min} to ${max} (got "${raw}")`);
  }
  return Number(raw);
}

/**
 * The most characters GATEWAY_ID may have: the client adds `:` and 8 random characters per process,
 * and the key service takes a gateway_id of at most 128 (GATEWAY_ID_PATTERN in usage-report.request.dto.ts).
 */
const MAX_GATEWAY_ID_LENGTH = 100;

function gatewayIdOf(env: NodeJS.ProcessEnv): string | null {
  const value = env.GATEWAY_ID;
  if (!value) return null;
  const rule = `must be 1 to ${MAX_GATEWAY_ID_LENGTH} characters, each one of A-Z a-z 0-9 . _ : - (a random part is added per process)`;
  if (value.length > MAX_GATEWAY_ID_LENGTH) throw new GatewayConfigError('GATEWAY_ID', `${rule}; got ${value.length} characters`);
  if (!/^[A-Za-z0-9._:-]+$/.test(value)) throw new GatewayConfigError('GATEWAY_ID', `${rule}; got "${value}"`);
  return value;
}

function redisUrl(env: NodeJS.ProcessEnv, name: string): string | null {
  const value = env[name];
  if (!value) return null;
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new GatewayConfigError(name, `must be a redis:// or rediss:// URL (got "${maskUrl(value)}")`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new GatewayConfigError(name, `must be a redis:// or rediss:// URL (got "${parsed.protocol}//...")`);
  return value;
}

function logFormatOf(env: NodeJS.ProcessEnv): 'json' | 'text' {
  const raw = env.LOG_FORMAT;
  if (raw === undefined || raw === '') return process.stdout.isTTY === true ? 'text' : 'json';
  if (raw !== 'json' && raw !== 'text') throw new GatewayConfigError('LOG_FORMAT', `must be one of json, text (got "${raw}")`);
  return raw;
}
