import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { CLOCK, Clock } from '../../common/clock';
import { DomainError } from '../../common/domain-error';
import { MASTER_KEY } from '../../crypto/master-key';
import { SecretBox } from '../../crypto/secret-box';
import { IDEMPOTENCY_RECORDS, IdempotencyRecord, IdempotencyRecords } from './idempotency-records';

/** How long a stored answer (secret included, encrypted) can be replayed, then it is purged. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 3600 * 1000;

/**
 * How long a retry waits for the first attempt's answer when that attempt is still running (on another
 * instance: this one's own attempts are awaited in process). Past it, the retry runs with the first
 * attempt's seed, as after a crash: it names the same key, so it cannot create a second one (409).
 */
export const IDEMPOTENCY_WAIT_MS = 10_000;

export interface IdempotencyScope {
  readonly teamId: string;
  readonly userId: string;
  readonly operation: string;
}

/**
 * Replays the first answer to a retried request. The answer may hold a secret shown once, so it
 * is kept only encrypted (AES-256-GCM, key derived from the master key), only for the window,
 * and never in the event log: in DATA_DIR/idempotency.db, or in PostgreSQL when the events are there,
 * so that a retry landing on another instance of a fleet replays it too.
 */
/** An Idempotency-Key header: 1-255 visible ASCII characters (the OpenAPI document states the same). */
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

@Injectable()
export class IdempotencyService implements OnModuleDestroy {
  private readonly box: SecretBox;
  private readonly inFlight = new Map<string, Promise<unknown>>();
  private readonly logger = new Logger('Idempotency');
  private lastPurge = 0;

  constructor(
    @Inject(IDEMPOTENCY_RECORDS) private readonly records: IdempotencyRecords,
    @Inject(MASTER_KEY) masterKey: Buffer,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.box = SecretBox.derive(masterKey, 'idempotency-responses');
  }

  async onModuleDestroy(): Promise<void> {
    await this.records.close();
  }

  private recordId(scope: IdempotencyScope, key: string): string {
    return sha256(JSON.stringify([scope.teamId, scope.userId, scope.operation, key]));
  }

  /**
   * `execute` gets a seed to derive new resource ids from: the same for every retry within one window
   * (so a retry after a crash names the same key), another once the window has passed; null without a key.
   * Throws VALIDATION_FAILED for a malformed key, IDEMPOTENCY_KEY_REUSED for the key with another request.
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
    await this.purge(now);
    let live = this.live(await this.records.get(id), now);
    if (!live) {
      if (await this.records.claim(id, requestHash, now, now - IDEMPOTENCY_WINDOW_MS)) return this.first(id, now, execute);
      // Another instance claimed it between the read and the claim.
      live = this.live(await this.records.get(id), now);
      if (!live) return this.first(id, now, execute);
    }
    if (live.request_hash !== requestHash) {
      throw new DomainError('IDEMPOTENCY_KEY_REUSED', 'Idempotency-Key was already used with a different request', {
        field: 'Idempotency-Key',
      });
    }
    // No answer yet: the first attempt runs on another instance, or died before answering. Wait for it a
    // while; then run with that window's seed, which names the same resources and so cannot create twice.
    const deadline = Date.now() + IDEMPOTENCY_WAIT_MS;
    while (live.response === null && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const again = this.live(await this.records.get(id), now);
      // The first attempt failed and dropped its record: this one is a first attempt again.
      if (!again) return this.attempt(id, requestHash, execute);
      if (again.request_hash !== requestHash) break;
      live = again;
    }
    if (live.response !== null) return JSON.parse(this.box.open(live.response, id)) as T;
    return this.first(id, live.created_at, execute);
  }

  private live(record: IdempotencyRecord | undefined, now: number): IdempotencyRecord | undefined {
    return record && now - record.created_at < IDEMPOTENCY_WINDOW_MS ? record : undefined;
  }

  /** Runs the request with the seed of the window that began at `windowStart`, and keeps its answer. */
  private async first<T>(id: string, windowStart: number, execute: (seed: string) => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await execute(sha256(`${id}:${windowStart}`));
    } catch (error) {
      // Best effort: on a full disk this delete fails too, and the caller is told the first error. The
      // record left behind without an answer reruns a retry with the same seed, as after a crash.
      await this.bestEffort(() => this.records.remove(id));
      throw error;
    }
    // The change is durable: the caller gets its answer even if the answer cannot be kept for a replay.
    await this.bestEffort(() => this.records.complete(id, this.box.seal(JSON.stringify(result), id)));
    return result;
  }

  private async bestEffort(write: () => Promise<unknown>): Promise<void> {
    try {
      await write();
    } catch (error) {
      this.logger.warn(`idempotency records: a record could not be written (${(error as Error).message}); a retry of that request runs again`);
    }
  }

  private async purge(now: number): Promise<void> {
    if (now - this.lastPurge < 60_000) return;
    this.lastPurge = now;
    await this.bestEffort(() => this.records.purge(now - IDEMPOTENCY_WINDOW_MS));
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
