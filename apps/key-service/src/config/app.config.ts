import * as path from 'node:path';
import { EVENT_STORE_KINDS, EventStoreSettings } from '@lib/event-store';

/** The one place that reads process.env: validated once at boot. */
export const APP_CONFIG = Symbol('APP_CONFIG');

export interface AppConfig {
  readonly nodeEnv: 'development' | 'production' | 'test';
  readonly host: string;
  readonly port: number;
  readonly grpcPort: number;
  readonly dataDir: string;
  /** EVENT_STORE (sqlite, the default, in DATA_DIR/events.db), DATABASE_URL, KURRENTDB_CONNECTION_STRING. */
  readonly eventStore: EventStoreSettings;
  readonly jwtSecret: string;
  /** True when AUTH_JWT_SECRET was not set and the development default is in use. */
  readonly jwtSecretIsDefault: boolean;
  /** 32 bytes, base64; absent outside production means: generate one under DATA_DIR. */
  readonly keyEncryptionKey: string | null;
  readonly logLevel: 'error' | 'warn' | 'log' | 'debug';
  /** How often an open revocation stream (SSE, gRPC) and the Kafka relay say they are alive. */
  readonly revocationHeartbeatMs: number;
  /** The expiry scheduler's longest sleep; it also wakes at the next due expiry. */
  readonly expiryScanMs: number;
  /** null: no Kafka relay (the embedded default; gateways use the stream). */
  readonly kafka: KafkaConfig | null;
  /** Where partner provider keys are checked before they are stored (`GET {base}/v1/models`). */
  readonly providers: ProvidersConfig;
}

export interface ProvidersConfig {
  readonly anthropicBaseUrl: string;
  readonly openaiBaseUrl: string;
  readonly verifyTimeoutMs: number;
}

export interface KafkaConfig {
  readonly brokers: readonly string[];
  readonly clientId: string;
  /** One partition, compacted: the feed's order is global, and consumers drop what they saw by position. */
  readonly revocationsTopic: string;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

export const DEVELOPMENT_JWT_SECRET = 'development-only-secret-do-not-use-in-production';

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const nodeEnv = oneOf(env, 'NODE_ENV', ['development', 'production', 'test'] as const, 'development');
  const jwt = env.AUTH_JWT_SECRET;
  if (jwt !== undefined && jwt.length < 32) {
    throw new ConfigError('AUTH_JWT_SECRET', 'must be at least 32 characters');
  }
  if (jwt === undefined && nodeEnv === 'production') {
    throw new ConfigError('AUTH_JWT_SECRET', 'is required when NODE_ENV=production');
  }
  const kek = env.KEY_ENCRYPTION_KEY === '' ? undefined : env.KEY_ENCRYPTION_KEY?.trim();
  if (kek !== undefined && !(BASE64.test(kek) && Buffer.from(kek, 'base64').length === 32)) {
    throw new ConfigError('KEY_ENCRYPTION_KEY', 'must be 32 bytes in base64 (44 characters; make one with: openssl rand -base64 32)');
  }
  if (kek === undefined && nodeEnv === 'production') {
    throw new ConfigError('KEY_ENCRYPTION_KEY', 'is required when NODE_ENV=production (32 bytes in base64)');
  }
  const port = portOf(env, 'PORT', 8080);
  const grpcPort = portOf(env, 'GRPC_PORT', 50051);
  if (port !== 0 && port === grpcPort) throw new ConfigError('GRPC_PORT', `must differ from PORT (${port})`);
  const dataDir = env.DATA_DIR ?? './data';
  if (dataDir.trim() === '') throw new ConfigError('DATA_DIR', 'must not be empty');
  return {
    nodeEnv,
    host: env.HOST ?? '127.0.0.1',
    port,
    grpcPort,
    dataDir: path.resolve(dataDir),
    eventStore: eventStoreOf(env, path.resolve(dataDir)),
    jwtSecret: jwt ?? DEVELOPMENT_JWT_SECRET,
    jwtSecretIsDefault: jwt === undefined,
    keyEncryptionKey: kek ?? null,
    logLevel: oneOf(env, 'LOG_LEVEL', ['error', 'warn', 'log', 'debug'] as const, 'log'),
    revocationHeartbeatMs: integerOf(env, 'REVOCATION_HEARTBEAT_MS', 5000, 50, 600_000),
    expiryScanMs: integerOf(env, 'EXPIRY_SCAN_MS', 1000, 10, 3_600_000),
    kafka: kafkaOf(env),
    providers: {
      anthropicBaseUrl: baseUrlOf(env, 'ANTHROPIC_API_BASE_URL', 'https://api.anthropic.com'),
      openaiBaseUrl: baseUrlOf(env, 'OPENAI_API_BASE_URL', 'https://api.openai.com'),
      verifyTimeoutMs: integerOf(env, 'PROVIDER_VERIFY_TIMEOUT_MS', 10_000, 100, 120_000),
    },
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

function eventStoreOf(env: NodeJS.ProcessEnv, dataDir: string): EventStoreSettings {
  const kind = oneOf(env, 'EVENT_STORE', EVENT_STORE_KINDS, 'sqlite');
  const databaseUrl = env.DATABASE_URL?.trim() || null;
  const kurrentdb = env.KURRENTDB_CONNECTION_STRING?.trim() || null;
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
  };
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
