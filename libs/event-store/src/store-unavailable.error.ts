/** The configured event store cannot be reached or opened: start-up stops with this message. */
export class EventStoreUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EventStoreUnavailableError';
  }
}

/** A connection URL fit for a log line: the password replaced. */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '(not a URL)';
  }
}

/**
 * A write could not be made durable: the disk is full, the file system failed or went read-only.
 * Nothing of it was stored, and trying again once storage recovers is safe. Transports answer
 * 503 with code STORE_UNAVAILABLE (HTTP) or UNAVAILABLE (gRPC).
 */
export class StoreUnavailableError extends Error {
  constructor(
    /** Short and safe to show: "disk full (SQLITE_FULL)". */
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'StoreUnavailableError';
  }
}

/**
 * Why an error means the storage itself failed (not the request): a short reason, or null. SQLite's
 * extended codes (SQLITE_IOERR_WRITE, SQLITE_CORRUPT_INDEX) start with their primary code.
 */
export function storageFaultOf(error: unknown): string | null {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return null;
  const kind = STORAGE_FAULTS.find(([prefix]) => code === prefix || code.startsWith(`${prefix}_`));
  return kind ? `${kind[1]} (${code})` : null;
}

const STORAGE_FAULTS: ReadonlyArray<readonly [string, string]> = [
  ['SQLITE_FULL', 'disk full'],
  ['ENOSPC', 'disk full'],
  ['EDQUOT', 'disk quota exceeded'],
  ['53100', 'disk full'], // PostgreSQL's disk_full
  ['SQLITE_IOERR', 'I/O error'],
  ['EIO', 'I/O error'],
  ['SQLITE_READONLY', 'read-only storage'],
  ['EROFS', 'read-only storage'],
  ['SQLITE_CANTOPEN', 'a file cannot be opened'],
  ['SQLITE_CORRUPT', 'a corrupt file'],
  ['SQLITE_NOTADB', 'a corrupt file'],
];

/** SQLITE_CORRUPT (and its extended codes) or SQLITE_NOTADB: the file's own bytes are damaged. */
export function isCorruptFileError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT' || code.startsWith('SQLITE_CORRUPT_'));
}
