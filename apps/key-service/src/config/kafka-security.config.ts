import { ConfigError } from './config-error';
import { readSecretFile, secretOf } from './secrets.config';

export const KAFKA_SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
export type KafkaSaslMechanism = (typeof KAFKA_SASL_MECHANISMS)[number];

/** kafkajs' `sasl` option for the mechanisms managed Kafka offers (Confluent Cloud, MSK, Aiven). */
export type KafkaSasl = {
  readonly [M in KafkaSaslMechanism]: { readonly mechanism: M; readonly username: string; readonly password: string };
}[KafkaSaslMechanism];

/** kafkajs' `ssl` option: the PEM contents (not paths) of the CA bundle and the client certificate and key. */
export interface KafkaTls {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

/** What kafkajs' `new Kafka({...})` takes besides brokers; both absent: PLAINTEXT. */
export interface KafkaSecurity {
  /** true: TLS with the system's CAs; an object: TLS with these PEMs; absent: no TLS. */
  readonly ssl?: true | KafkaTls;
  readonly sasl?: KafkaSasl;
}

/**
 * KAFKA_SSL (`true`/`false`, default false), KAFKA_SSL_CA_FILE, KAFKA_SSL_CERT_FILE with
 * KAFKA_SSL_KEY_FILE (PEM files; the client certificate for mTLS), KAFKA_SASL_MECHANISM (`plain`,
 * `scram-sha-256`, `scram-sha-512`) with KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD, or their `_FILE`
 * variants. Shared by the key service's relay and the reference gateway's Kafka feed.
 *
 * Errors (ConfigError naming the variable): KAFKA_SSL not true/false; a certificate file set while
 * KAFKA_SSL is not true; a certificate without its key or the reverse; a file that cannot be read or
 * holds no PEM block; an unknown mechanism; a mechanism without username or password, or either of
 * those without a mechanism.
 */
export function kafkaSecurityOf(env: NodeJS.ProcessEnv): KafkaSecurity {
  const rawSsl = env.KAFKA_SSL?.trim().toLowerCase() || 'false';
  if (rawSsl !== 'true' && rawSsl !== 'false') throw new ConfigError('KAFKA_SSL', `must be true or false (got "${env.KAFKA_SSL}")`);
  const pem = (variable: string): string | undefined => {
    const file = env[variable]?.trim();
    if (!file) return undefined;
    if (rawSsl !== 'true') throw new ConfigError(variable, 'is set but KAFKA_SSL is not true: set KAFKA_SSL=true to connect with TLS');
    const content = readSecretFile(variable, file);
    if (!content.includes('-----BEGIN ')) throw new ConfigError(variable, `"${file}" holds no PEM block (-----BEGIN ...)`);
    return content;
  };
  const ca = pem('KAFKA_SSL_CA_FILE');
  const cert = pem('KAFKA_SSL_CERT_FILE');
  const key = pem('KAFKA_SSL_KEY_FILE');
  if (cert !== undefined && key === undefined) throw new ConfigError('KAFKA_SSL_KEY_FILE', 'is required with KAFKA_SSL_CERT_FILE (the client certificate\'s private key)');
  if (key !== undefined && cert === undefined) throw new ConfigError('KAFKA_SSL_CERT_FILE', 'is required with KAFKA_SSL_KEY_FILE (the client certificate)');
  const tls: KafkaTls = { ...(ca !== undefined ? { ca } : {}), ...(cert !== undefined ? { cert, key } : {}) };
  const ssl = rawSsl !== 'true' ? undefined : Object.keys(tls).length > 0 ? tls : true;

  const mechanism = env.KAFKA_SASL_MECHANISM?.trim().toLowerCase() || undefined;
  const username = secretOf(env, 'KAFKA_SASL_USERNAME');
  const password = secretOf(env, 'KAFKA_SASL_PASSWORD');
  if (mechanism === undefined) {
    if (username !== undefined) throw new ConfigError('KAFKA_SASL_MECHANISM', `is required with KAFKA_SASL_USERNAME (one of ${KAFKA_SASL_MECHANISMS.join(', ')})`);
    if (password !== undefined) throw new ConfigError('KAFKA_SASL_MECHANISM', `is required with KAFKA_SASL_PASSWORD (one of ${KAFKA_SASL_MECHANISMS.join(', ')})`);
    return ssl === undefined ? {} : { ssl };
  }
  if (!(KAFKA_SASL_MECHANISMS as readonly string[]).includes(mechanism)) {
    throw new ConfigError('KAFKA_SASL_MECHANISM', `must be one of ${KAFKA_SASL_MECHANISMS.join(', ')} (got "${env.KAFKA_SASL_MECHANISM}")`);
  }
  if (username === undefined) throw new ConfigError('KAFKA_SASL_USERNAME', `is required with KAFKA_SASL_MECHANISM=${mechanism} (or KAFKA_SASL_USERNAME_FILE)`);
  if (password === undefined) throw new ConfigError('KAFKA_SASL_PASSWORD', `is required with KAFKA_SASL_MECHANISM=${mechanism} (or KAFKA_SASL_PASSWORD_FILE)`);
  return { ...(ssl === undefined ? {} : { ssl }), sasl: { mechanism, username, password } as KafkaSasl };
}

/**
 * The start-up message for credentials the broker refused (kafkajs' KafkaJSSASLAuthenticationError):
 * it names the variables to fix, and the user, never the password.
 */
export function kafkaCredentialsRefused(sasl: KafkaSasl, brokerMessage: string): ConfigError {
  return new ConfigError(
    'KAFKA_SASL_PASSWORD',
    `the Kafka broker refused the ${sasl.mechanism.toUpperCase()} credentials of KAFKA_SASL_USERNAME "${sasl.username}": check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (${brokerMessage})`,
  );
}
