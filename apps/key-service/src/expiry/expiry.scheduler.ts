import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type Database from 'better-sqlite3';
import { APP_CONFIG, AppConfig } from '../config/app.config';
import { CLOCK, Clock } from '../common/clock';
import { eventMetadata } from '../common/request-context';
import { ProjectionRunner } from '../read-side/projection-runner';
import { READ_MODEL_DB } from '../read-side/read-model.database';
import { KeyCommandExecutor } from '../keys/shared/key-command.executor';
import { Metrics } from '../observability/metrics';
import { HeldLease, Leadership } from '../fleet/leadership';

const DUE_BATCH = 200;
export const EXPIRY_ACTOR = { userId: 'system:expiry-scheduler', role: 'system', teamId: '' } as const;

/**
 * Appends ModelAccessKeyExpired when a key reaches its expires_at, whether or not anyone calls.
 * It finds due keys in the key views and sends each an ExpireModelAccessKey command; the decider
 * gives no event for a key already expired, and the expected revision makes a second instance's
 * append conflict and re-decide to nothing, so the event is written once across restarts and
 * instances. It sleeps until the next due expiry, at most EXPIRY_SCAN_MS. In a fleet it runs on the
 * instance holding the `expiry-scheduler` lease (fleet/leadership.ts); the others only take over.
 *
 * The same way, it ends regenerate overlaps: at a previous secret's `ends_at` (key_previous_secrets)
 * it sends RevokePreviousSecret, which appends ModelAccessKeyPreviousSecretRevoked once.
 */
@Injectable()
export class ExpiryScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ExpiryScheduler.name);
  private readonly due: Database.Statement<[string, number], { key_uuid: string; team_id: string }>;
  private readonly next: Database.Statement<[], { expires_at: string | null }>;
  private readonly duePrevious: Database.Statement<[string, number], { key_uuid: string; team_id: string }>;
  private readonly nextPrevious: Database.Statement<[], { ends_at: string | null }>;
  private timer: NodeJS.Timeout | null = null;
  private timerDueAt = Number.POSITIVE_INFINITY;
  private failures = 0;
  private running: Promise<void> | null = null;
  private stopped = false;
  /** The lease while this instance runs the scheduler; null while another does. */
  private lease: HeldLease | null = null;

  constructor(
    @Inject(READ_MODEL_DB) db: Database.Database,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly executor: KeyCommandExecutor,
    runner: ProjectionRunner,
    private readonly metrics: Metrics,
    private readonly leadership: Leadership,
  ) {
    const live = 'expires_at IS NOT NULL AND deleted_at IS NULL AND expired_at IS NULL';
    this.due = db.prepare(`SELECT key_uuid, team_id FROM key_views WHERE ${live} AND expires_at <= ? ORDER BY expires_at LIMIT ?`);
    this.next = db.prepare(`SELECT MIN(expires_at) AS expires_at FROM key_views WHERE ${live}`);
    this.duePrevious = db.prepare(`SELECT key_uuid, team_id FROM key_previous_secrets WHERE ends_at <= ? ORDER BY ends_at LIMIT ?`);
    this.nextPrevious = db.prepare(`SELECT MIN(ends_at) AS ends_at FROM key_previous_secrets`);
    const backlog = db.prepare<[string], { n: number }>(`SELECT COUNT(*) AS n FROM key_views WHERE ${live} AND expires_at <= ?`);
    metrics.onScrape(() => {
      if (!db.open) return;
      const next = this.next.get()?.expires_at;
      if (next) metrics.expiryNextDue.set(Date.parse(next) / 1000);
      else metrics.expiryNextDue.reset();
      metrics.expiryBacklog.set(backlog.get(this.clock.now().toISOString())?.n ?? 0);
    });
    // A key created with a near expiry must not wait for the end of a long sleep.
    runner.onCommitted('notify', () => this.reschedule());
  }

  onApplicationBootstrap(): void {
    this.leadership.run({
      name: 'expiry-scheduler',
      start: (lease) => {
        this.lease = lease;
        this.schedule(0);
      },
      stop: () => this.standDown(),
    });
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    await this.standDown();
  }

  private async standDown(): Promise<void> {
    this.lease = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerDueAt = Number.POSITIVE_INFINITY;
    await this.running;
  }

  /**
   * Expires every due key; returns how many events it wrote. Exposed for tests and keyctl, which run it
   * without a lease; the scheduled runs pass theirs, and stop at once when it no longer surely holds.
   */
  async runOnce(lease?: HeldLease): Promise<number> {
    return (await this.expireDue(lease)) + (await this.endDueOverlaps(lease));
  }

  /** Revokes every previous secret whose overlap has ended; returns how many events it wrote. */
  private async endDueOverlaps(lease?: HeldLease): Promise<number> {
    let written = 0;
    for (;;) {
      const now = this.clock.now().toISOString();
      const due = this.duePrevious.all(now, DUE_BATCH);
      for (const key of due) {
        if (this.stopped || (lease !== undefined && !lease.isValid())) return written;
        try {
          const after = await this.executor.execute(
            { type: 'RevokePreviousSecret', keyUuid: key.key_uuid, now },
            eventMetadata({ ...EXPIRY_ACTOR, teamId: key.team_id }, { requestId: `overlap-end-${key.key_uuid}`, sourceIp: null, userAgent: null }),
          );
          if (after.previousSecret === null) written++;
        } catch (error) {
          this.failures++;
          this.metrics.expiryFailures.inc();
          this.logger.error(`could not end the overlap of key ${key.key_uuid}: ${(error as Error).message}`);
        }
      }
      if (due.length < DUE_BATCH) return written;
    }
  }

  private async expireDue(lease?: HeldLease): Promise<number> {
    let written = 0;
    for (;;) {
      const now = this.clock.now().toISOString();
      const due = this.due.all(now, DUE_BATCH);
      for (const key of due) {
        if (this.stopped || (lease !== undefined && !lease.isValid())) return written;
        try {
          const before = await this.executor.execute(
            { type: 'ExpireModelAccessKey', keyUuid: key.key_uuid, now },
            eventMetadata({ ...EXPIRY_ACTOR, teamId: key.team_id }, { requestId: `expiry-${key.key_uuid}`, sourceIp: null, userAgent: null }),
          );
          if (before.expiredAt !== null) written++;
        } catch (error) {
          this.failures++;
          this.metrics.expiryFailures.inc();
          this.logger.error(`could not expire key ${key.key_uuid}: ${(error as Error).message}`);
        }
      }
      if (due.length < DUE_BATCH) return written;
    }
  }

  /** After a commit: wake earlier if the new soonest expiry comes before the planned wake-up. */
  private reschedule(): void {
    if (this.running || this.stopped || this.lease === null) return;
    const delay = this.delayToNext();
    if (Date.now() + delay < this.timerDueAt) this.schedule(delay);
  }

  private delayToNext(): number {
    const nextExpiry = this.next.get()?.expires_at;
    const nextOverlapEnd = this.nextPrevious.get()?.ends_at;
    const untilNext = Math.min(
      nextExpiry ? Date.parse(nextExpiry) - this.clock.now().getTime() : Number.POSITIVE_INFINITY,
      nextOverlapEnd ? Date.parse(nextOverlapEnd) - this.clock.now().getTime() : Number.POSITIVE_INFINITY,
    );
    // A key that could not be expired is tried again at the next scan, not in a tight loop.
    const floor = this.failures > 0 ? this.config.expiryScanMs : 0;
    return Math.max(floor, Math.min(untilNext, this.config.expiryScanMs));
  }

  private schedule(delay: number): void {
    const lease = this.lease;
    if (lease === null || this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerDueAt = Date.now() + delay;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerDueAt = Number.POSITIVE_INFINITY;
      this.failures = 0;
      this.running = this.runOnce(lease)
        .catch((error) => this.logger.error(`expiry run failed: ${(error as Error).message}`))
        .then(() => undefined)
        .finally(() => {
          this.running = null;
          if (!this.stopped && this.lease === lease) this.schedule(this.delayToNext());
        });
    }, delay);
    this.timer.unref();
  }
}
