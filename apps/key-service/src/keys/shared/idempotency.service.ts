import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import type Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { APP_CONFIG, AppConfig } from '../../config/app.config';
import { CLOCK, Clock } from '../../common/clock';
import { DomainError } from '../../common/domain-error';
import { MASTER_KEY } from '../../crypto/master-key';
import { SecretBox } from '../../crypto/secret-box';
import { openDerivedSqliteFile } from '../../common/sqlite-file';

/** How long a stored answer (secret included, encrypted) can be replayed, then it is purged. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 3600 * 1000;

export interface IdempotencyScope {
  readonly teamId: string;
  readonly userId: string;
  readonly operation: string;
}

interface Row {
  request_hash: string;
  response: string | null;
  created_at: number;
}

/**
 * Replays the first answer to a retried request. The answer may hold a secret shown once, so it
 * is kept only encrypted (AES-256-GCM, key derived from the master key), only for the window,
 * and in its own file: never in the event log.
 */
/** An Idempotency-Key header: 1-255 visible ASCII characters (the OpenAPI document states the same). */
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

@Injectable()
export class IdempotencyService implements OnModuleDestroy {
  private readonly db: Database.Database;
  private readonly box: SecretBox;
  private readonly inFlight = new Map<string, Promise<unknown>>();
  private readonly logger = new Logger('Idempotency');
  private lastPurge = 0;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(MASTER_KEY) masterKey: Buffer,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    // Not derived from the log, but only a convenience: losing it costs the replays of the last window's
    // answers (a retry runs again), never a key. So a damaged file is moved aside, not a reason to stop.
    this.db = openDerivedSqliteFile(
      path.join(config.dataDir, 'idempotency.db'),
      (db) => {
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = FULL');
        db.pragma('busy_timeout = 5000');
        db.exec(`CREATE TABLE IF NOT EXISTS idempotency (
          id TEXT PRIMARY KEY, request_hash TEXT NOT NULL, response TEXT, created_at INTEGER NOT NULL)`);
      },
      (line) => this.logger.error(line),
      'answers kept for replay (up to 24 hours) are gone: a retry of such a request runs again instead of being replayed',
    );
    this.box = SecretBox.derive(masterKey, 'idempotency-responses');
  }

  onModuleDestroy(): void {
    if (this.db.open) this.db.close();
  }

  private recordId(scope: IdempotencyScope, key: string): string {
    return sha256(JSON.stringify([scope.teamId, scope.userId, scope.operation, key]));
  }

  /**
   * `execute` gets a seed to derive new resource ids from: the same for every retry within one window
   * (so a retry after a crash names the same key), another once the window has passed; null without a key.
   */
  async run<T>(scope: IdempotencyScope, key: string | null, request: unknown, execute: (seed: string | null) => Promise<T>): Promise<T> {
    if (key === null) return execute(null);
    if (!IDEMPOTENCY_KEY.test(key)) {
      throw new DomainError('VALIDATION_FAILED', 'Idempotency-Key must be 1-255 visible ASCII characters', {
        field: 'Idempotency-Key',
      });
    }
    const id = this.recordId(scope, key);
    while (this.inFlight.has(id)) await this.inFlight.get(id)!.catch(() => undefined);
    const attempt = this.attempt(id, sha256(JSON.stringify(request)), execute);
    this.inFlight.set(id, attempt);
    try {
      return await attempt;
    } finally {
      this.inFlight.delete(id);
    }
  }

  private async attempt<T>(id: string, requestHash: string, execute: (seed: string) => Promise<T>): Promise<T> {
    const now = this.clock.now().getTime();
    this.purge(now);
    const row = this.db.prepare('SELECT request_hash, response, created_at FROM idempotency WHERE id = ?').get(id) as
      | Row
      | undefined;
    const live = row && now - row.created_at < IDEMPOTENCY_WINDOW_MS ? row : undefined;
    if (live && live.request_hash !== requestHash) {
      throw new DomainError('IDEMPOTENCY_KEY_REUSED', 'Idempotency-Key was already used with a different request', {
        field: 'Idempotency-Key',
      });
    }
    if (live?.response) return JSON.parse(this.box.open(live.response, id)) as T;
    // No answer stored: a first attempt, or an earlier one that died before answering. Either way run it
    // with the seed of this window, so that a rerun names the same resources and cannot create a second one.
    const windowStart = live ? live.created_at : now;
    if (!live) {
      this.db
        .prepare(
          'INSERT INTO idempotency (id, request_hash, response, created_at) VALUES (?, ?, NULL, ?) ' +
            'ON CONFLICT(id) DO UPDATE SET request_hash = excluded.request_hash, response = NULL, created_at = excluded.created_at',
        )
        .run(id, requestHash, now);
    }
    let result: T;
    try {
      result = await execute(sha256(`${id}:${windowStart}`));
    } catch (error) {
      // Best effort: on a full disk this delete fails too, and the caller is told the first error. The
      // record left behind without an answer reruns a retry with the same seed, as after a crash.
      this.bestEffort(() => this.db.prepare('DELETE FROM idempotency WHERE id = ?').run(id));
      throw error;
    }
    // The change is durable: the caller gets its answer even if the answer cannot be kept for a replay.
    this.bestEffort(() => this.db.prepare('UPDATE idempotency SET response = ? WHERE id = ?').run(this.box.seal(JSON.stringify(result), id), id));
    return result;
  }

  private bestEffort(write: () => unknown): void {
    try {
      write();
    } catch (error) {
      this.logger.warn(`idempotency.db: a record could not be written (${(error as Error).message}); a retry of that request runs again`);
    }
  }

  private purge(now: number): void {
    if (now - this.lastPurge < 60_000) return;
    this.lastPurge = now;
    this.db.prepare('DELETE FROM idempotency WHERE created_at <= ?').run(now - IDEMPOTENCY_WINDOW_MS);
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
