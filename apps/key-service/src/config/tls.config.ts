import * as fs from 'node:fs';
import { isIP } from 'node:net';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import * as path from 'node:path';

/** The roles a client certificate may stand for, and that TLS_REQUIRE_CLIENT_CERT_FOR may name: machines, not people. */
export const CERTIFICATE_ROLES = ['gateway', 'service'] as const;
export type CertificateRole = (typeof CERTIFICATE_ROLES)[number];

/**
 * TLS for HTTP and gRPC (both ports, the same certificate). Paths are absolute; the files are re-read
 * when they change (tls/tls-credentials.ts), so a renewed certificate needs no restart.
 */
export interface TlsConfig {
  /** TLS_CERT_FILE: the server certificate, PEM; a chain (leaf first, then intermediates) is allowed. */
  readonly certFile: string;
  /** TLS_KEY_FILE: its private key, PEM (PKCS#8, PKCS#1 or SEC1), unencrypted. */
  readonly keyFile: string;
  /** TLS_CLIENT_CA_FILE: the CA(s), PEM, that client certificates are verified against; null: no mutual TLS. */
  readonly clientCaFile: string | null;
  /**
   * TLS_CLIENT_AUTH: `request` (the default with a client CA: a certificate is asked for, and a
   * connection without one, or with one that does not verify, still gets through to present a token)
   * or `require` (the handshake fails without a verified certificate). `none` without a client CA.
   */
  readonly clientAuth: 'none' | 'request' | 'require';
  /** TLS_REQUIRE_CLIENT_CERT_FOR: roles refused (403) over a connection without a verified client certificate. */
  readonly requireClientCertFor: readonly CertificateRole[];
}

/** The PEM contents of the TLS files, checked to belong together. */
export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer | null;
  /** The leaf certificate's serial number (upper-case hex) and end of validity, for the logs. */
  readonly serial: string;
  readonly validTo: string;
}

/** A TLS file that cannot be used: `variable` names the setting that points at it. */
export class TlsFileError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'TlsFileError';
  }
}

/**
 * Reads and checks the TLS files: each readable and PEM, the key the certificate's, the CA bundle
 * loadable. Throws TlsFileError naming the variable of the file at fault. Used at start-up (a bad
 * file stops it) and on every change (a bad file keeps the previous certificate).
 */
export function readTlsMaterial(files: Pick<TlsConfig, 'certFile' | 'keyFile' | 'clientCaFile'>): TlsMaterial {
  const read = (variable: string, file: string) => {
    try {
      return fs.readFileSync(file);
    } catch (error) {
      throw new TlsFileError(variable, `cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
  };
  const cert = read('TLS_CERT_FILE', files.certFile);
  const key = read('TLS_KEY_FILE', files.keyFile);
  const ca = files.clientCaFile === null ? null : read('TLS_CLIENT_CA_FILE', files.clientCaFile);
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch {
    throw new TlsFileError('TLS_CERT_FILE', `${files.certFile} is not a PEM certificate`);
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new TlsFileError('TLS_KEY_FILE', `${files.keyFile} is not an unencrypted PEM private key`);
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new TlsFileError('TLS_KEY_FILE', `${files.keyFile} is not the private key of the certificate in ${files.certFile}`);
  }
  if (ca !== null) {
    try {
      new X509Certificate(ca);
      createSecureContext({ ca });
    } catch {
      throw new TlsFileError('TLS_CLIENT_CA_FILE', `${files.clientCaFile} is not a PEM certificate bundle`);
    }
  }
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    throw new TlsFileError('TLS_CERT_FILE', `${files.certFile} cannot be used with its key: ${(error as Error).message}`);
  }
  return { cert, key, ca, serial: leaf.serialNumber.toUpperCase(), validTo: new Date(leaf.validTo).toISOString() };
}

/**
 * TLS_CERT_FILE and TLS_KEY_FILE (both or neither), TLS_CLIENT_CA_FILE, TLS_CLIENT_AUTH and
 * TLS_REQUIRE_CLIENT_CERT_FOR; the files are read and checked now. null: plain HTTP and gRPC.
 * `fail(variable, message)` builds the configuration error to throw.
 */
export function tlsConfigOf(env: NodeJS.ProcessEnv, fail: (variable: string, message: string) => Error): TlsConfig | null {
  const value = (name: string) => env[name]?.trim() || null;
  const certFile = value('TLS_CERT_FILE');
  const keyFile = value('TLS_KEY_FILE');
  const clientCaFile = value('TLS_CLIENT_CA_FILE');
  const clientAuthRaw = value('TLS_CLIENT_AUTH');
  const requiredRaw = value('TLS_REQUIRE_CLIENT_CERT_FOR');
  if (certFile === null && keyFile === null) {
    for (const name of ['TLS_CLIENT_CA_FILE', 'TLS_CLIENT_AUTH', 'TLS_REQUIRE_CLIENT_CERT_FOR']) {
      if (value(name) !== null) throw fail(name, 'needs TLS_CERT_FILE and TLS_KEY_FILE (mutual TLS is TLS first)');
    }
    return null;
  }
  if (certFile === null) throw fail('TLS_CERT_FILE', 'is required when TLS_KEY_FILE is set');
  if (keyFile === null) throw fail('TLS_KEY_FILE', 'is required when TLS_CERT_FILE is set');
  if (clientAuthRaw !== null && !['request', 'require'].includes(clientAuthRaw)) {
    throw fail('TLS_CLIENT_AUTH', `must be request or require (got "${clientAuthRaw}")`);
  }
  if (clientCaFile === null && (clientAuthRaw !== null || requiredRaw !== null)) {
    throw fail(clientAuthRaw !== null ? 'TLS_CLIENT_AUTH' : 'TLS_REQUIRE_CLIENT_CERT_FOR', 'needs TLS_CLIENT_CA_FILE (the CA client certificates are verified against)');
  }
  const requireClientCertFor: CertificateRole[] = [];
  for (const role of (requiredRaw ?? '').split(',').map((r) => r.trim()).filter(Boolean)) {
    if (!(CERTIFICATE_ROLES as readonly string[]).includes(role)) {
      throw fail('TLS_REQUIRE_CLIENT_CERT_FOR', `must be a comma-separated list of ${CERTIFICATE_ROLES.join(', ')} (got "${role}")`);
    }
    if (!requireClientCertFor.includes(role as CertificateRole)) requireClientCertFor.push(role as CertificateRole);
  }
  const config: TlsConfig = {
    certFile: path.resolve(certFile),
    keyFile: path.resolve(keyFile),
    clientCaFile: clientCaFile === null ? null : path.resolve(clientCaFile),
    clientAuth: clientCaFile === null ? 'none' : ((clientAuthRaw as 'request' | 'require' | null) ?? 'request'),
    requireClientCertFor,
  };
  try {
    readTlsMaterial(config);
  } catch (error) {
    if (error instanceof TlsFileError) throw fail(error.variable, error.message.slice(error.variable.length + 2));
    throw error;
  }
  return config;
}

/**
 * TRUST_PROXY, in the forms Fastify's `trustProxy` takes: unset (false: the peer's address is the
 * client's, and X-Forwarded-* headers are ignored), a hop count (`1`: believe the last proxy in
 * front), or a comma-separated list of addresses and CIDR ranges of trusted proxies (`10.0.0.0/8,
 * 127.0.0.1`, and proxy-addr's names `loopback`, `linklocal`, `uniquelocal`).
 */
export function trustProxyOf(env: NodeJS.ProcessEnv, fail: (variable: string, message: string) => Error): false | number | string[] {
  const raw = env.TRUST_PROXY?.trim();
  if (!raw) return false;
  const refuse = (detail: string) => fail('TRUST_PROXY', `must be a hop count (1-32) or a comma-separated list of addresses and CIDR ranges (${detail})`);
  if (/^\d+$/.test(raw)) {
    const hops = Number(raw);
    if (hops < 1 || hops > 32) throw refuse(`got "${raw}"`);
    return hops;
  }
  const entries = raw.split(',').map((entry) => entry.trim());
  for (const entry of entries) {
    if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) continue;
    const [address, prefix, ...rest] = entry.split('/');
    const family = isIP(address);
    const bits = family === 4 ? 32 : 128;
    if (family === 0 || rest.length > 0 || (prefix !== undefined && !(/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits))) {
      throw refuse(`"${entry}" is neither`);
    }
  }
  return entries;
}
