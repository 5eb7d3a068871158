import { Logger } from '@nestjs/common';
import { ServerCredentials, experimental } from '@grpc/grpc-js';
import * as fs from 'node:fs';
import type { SecureContextOptions } from 'node:tls';
import { TlsConfig, TlsFileError, TlsMaterial, readTlsMaterial } from '../config/tls.config';

/** How often the files are stat'ed, in ms: fs.watchFile polls, which also sees a Kubernetes secret's symlink swap. */
const POLL_MS = 1000;
/** After a change, wait this long (ms) for the other file of the pair before reading: cert and key are written one by one. */
const DEBOUNCE_MS = 250;

type IdentityListener = (update: experimental.IdentityCertificateUpdate | null) => void;
type CaListener = (update: experimental.CaCertificateUpdate | null) => void;

/**
 * The TLS files of the service, kept current while it runs: a changed certificate, key or client CA is
 * read again (debounced) and, when the three belong together, handed to the HTTPS server
 * (`setSecureContext`) and to gRPC (as a grpc-js CertificateProvider), so that new connections get
 * it; open connections keep theirs. A file that cannot be read, or a key that does not match its
 * certificate (a half-written renewal), keeps the previous certificate and logs a warning.
 */
export class TlsCredentials implements experimental.CertificateProvider {
  private readonly logger = new Logger('Tls');
  private material: TlsMaterial;
  private readonly identityListeners = new Set<IdentityListener>();
  private readonly caListeners = new Set<CaListener>();
  private readonly changeListeners = new Set<(material: TlsMaterial) => void>();
  private debounce: NodeJS.Timeout | null = null;
  private watching = false;

  constructor(
    readonly config: TlsConfig,
    private readonly timing: { pollMs?: number; debounceMs?: number } = {},
  ) {
    this.material = readTlsMaterial(config);
  }

  /** The certificate now served: serial (upper-case hex) and end of validity. */
  get current(): Pick<TlsMaterial, 'serial' | 'validTo'> {
    return { serial: this.material.serial, validTo: this.material.validTo };
  }

  /** Options for https.createServer / Fastify's `https`: the certificate, and the client CA when mutual TLS is on. */
  serverOptions(): SecureContextOptions & { requestCert: boolean; rejectUnauthorized: boolean } {
    return { ...this.contextOptions(), requestCert: this.config.clientAuth !== 'none', rejectUnauthorized: this.config.clientAuth === 'require' };
  }

  /** What setSecureContext takes: the current certificate, key and client CA. */
  contextOptions(): SecureContextOptions {
    const { cert, key, ca } = this.material;
    return { cert, key, ...(ca !== null ? { ca } : {}) };
  }

  /**
   * gRPC server credentials on this provider (grpc-js' own mechanism for certificates that change).
   * grpc-js 1.14's createCertificateProviderServerCredentials hands its first argument to the
   * credentials as the identity provider and its second as the CA provider (its parameter names say
   * the opposite): this object is both, and the CA provider is null without mutual TLS. The TLS
   * integration spec fails should a grpc-js upgrade change that.
   */
  grpcCredentials(): ServerCredentials {
    return experimental.createCertificateProviderServerCredentials(this, this.config.clientCaFile !== null ? this : null, this.config.clientAuth === 'require');
  }

  /** Calls `listener` with each new, checked set of files. */
  onChange(listener: (material: TlsMaterial) => void): void {
    this.changeListeners.add(listener);
  }

  /** Starts watching the files (fs.watchFile: polling, which survives replaced files and symlink swaps). */
  watch(): void {
    if (this.watching) return;
    this.watching = true;
    for (const file of this.files()) fs.watchFile(file, { interval: this.timing.pollMs ?? POLL_MS, persistent: false }, this.onFileChange);
  }

  close(): void {
    if (this.debounce !== null) clearTimeout(this.debounce);
    if (!this.watching) return;
    this.watching = false;
    for (const file of this.files()) fs.unwatchFile(file, this.onFileChange);
  }

  /** Reads the files again now; true when the new ones are in use. */
  reload(): boolean {
    let next: TlsMaterial;
    try {
      next = readTlsMaterial(this.config);
    } catch (error) {
      const message = error instanceof TlsFileError ? error.message : String(error);
      this.logger.warn(`TLS files changed but cannot be used, still serving certificate ${this.material.serial}: ${message}`);
      return false;
    }
    const same = (a: Buffer | null, b: Buffer | null) => (a === null || b === null ? a === b : a.equals(b));
    if (same(next.cert, this.material.cert) && same(next.key, this.material.key) && same(next.ca, this.material.ca)) return true;
    const previous = this.material.serial;
    this.material = next;
    for (const listener of this.changeListeners) listener(next);
    for (const listener of this.identityListeners) listener({ certificate: next.cert, privateKey: next.key });
    if (next.ca !== null) for (const listener of this.caListeners) listener({ caCertificate: next.ca });
    this.logger.log(`TLS certificate reloaded: serial ${previous} -> ${next.serial}, valid to ${next.validTo}; new connections get it`);
    return true;
  }

  // experimental.CertificateProvider, for grpc-js: each listener gets the current files at once, then every change.
  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    process.nextTick(() => listener({ certificate: this.material.cert, privateKey: this.material.key }));
  }
  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }
  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    process.nextTick(() => listener(this.material.ca === null ? null : { caCertificate: this.material.ca }));
  }
  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }

  private files(): string[] {
    return [this.config.certFile, this.config.keyFile, ...(this.config.clientCaFile !== null ? [this.config.clientCaFile] : [])];
  }

  private readonly onFileChange = (current: fs.Stats, previous: fs.Stats): void => {
    if (current.mtimeMs === previous.mtimeMs && current.ino === previous.ino && current.size === previous.size) return;
    if (this.debounce !== null) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = null;
      this.reload();
    }, this.timing.debounceMs ?? DEBOUNCE_MS);
  };
}
