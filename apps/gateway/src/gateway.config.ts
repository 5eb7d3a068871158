import * as os from 'node:os';
import * as path from 'node:path';
import { FeedOptions } from '@lib/gateway-client';
import { ConfigError } from '../../key-service/src/config/config-error';
import { kafkaSecurityOf } from '../../key-service/src/config/kafka-security.config';

export interface GatewayConfig {
  readonly host: string;
  readonly port: number;
  readonly serviceUrl: string;
  readonly token: string;
  readonly upstreamUrl: string;
  readonly upstreamApiKey: string | null;
  readonly feed: FeedOptions;
  /** The dedicated deployment this gateway fronts; absent: serverless inference. */
  readonly deploymentName: string | null;
  /** The VPC this gateway's traffic comes from, presented on every verification. */
  readonly vpcUuid: string | null;
  readonly stateDir: string;
  readonly maxFeedSilenceMs: number;
  readonly validTtlMs: number;
  /** LOG_FORMAT, as the key service's: `json` lines, or `text` (the default on a terminal). */
  readonly logFormat: 'json' | 'text';
}

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
  return {
    host: env.GATEWAY_HOST ?? '127.0.0.1',
    port,
    serviceUrl: url(env, 'KEY_SERVICE_URL', 'http://127.0.0.1:8080'),
    token: required(env, 'GATEWAY_TOKEN', 'a token with role gateway (npm run --silent keyctl -- token --role gateway ...)'),
    upstreamUrl: url(env, 'UPSTREAM_URL', undefined),
    upstreamApiKey: env.UPSTREAM_API_KEY || null,
    feed,
    deploymentName: env.GATEWAY_DEPLOYMENT_NAME || null,
    vpcUuid: env.GATEWAY_VPC_UUID || null,
    stateDir: path.resolve(env.GATEWAY_STATE_DIR ?? './gateway-data'),
    maxFeedSilenceMs: integer(env, 'FEED_MAX_SILENCE_MS', 15_000, 100, 3_600_000),
    validTtlMs: integer(env, 'CACHE_TTL_MS', 300_000, 0, 86_400_000),
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

function required(env: NodeJS.ProcessEnv, name: string, what: string): string {
  const value = env[name];
  if (!value) throw new GatewayConfigError(name, `is required: ${what}`);
  return value;
}

function url(env: NodeJS.ProcessEnv, name: string, fallback: string | undefined): string {
  const value = env[name] || fallback;
  if (!value) throw new GatewayConfigError(name, 'is required (an http:// or https:// URL)');
  try {
    const parsed = new URL(value);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error();
  } catch {
    throw new GatewayConfigError(name, `must be an http:// or https:// URL (got "${value}")`);
  }
  return value.replace(/\/$/, '');
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new GatewayConfigError(name, `must be an integer from ${min} to ${max} (got "${raw}")`);
  }
  return Number(raw);
}

function logFormatOf(env: NodeJS.ProcessEnv): 'json' | 'text' {
  const raw = env.LOG_FORMAT;
  if (raw === undefined || raw === '') return process.stdout.isTTY === true ? 'text' : 'json';
  if (raw !== 'json' && raw !== 'text') throw new GatewayConfigError('LOG_FORMAT', `must be one of json, text (got "${raw}")`);
  return raw;
}
