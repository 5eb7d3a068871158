import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { CLOCK, Clock } from '../common/clock';
import { APP_CONFIG, AppConfig } from '../config/app.config';
import { BATCH_MARK_RETENTION_MS, USAGE_STORE, UsageStore } from './usage-store.port';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** Retention is checked at start and hourly: what it removes is at least a day old. */
const RUN_EVERY_MS = HOUR_MS;

/**
 * Keeps the usage store from growing without bound: minute rows older than USAGE_RETENTION_DAYS are
 * rolled up into hour rows, hour rows older than USAGE_HOURLY_RETENTION_DAYS into day rows. Cutoffs fall
 * on whole hours and days, so every hour and day bucket, and every quota period (they start at 00:00
 * UTC), keeps its totals. Every instance runs it: with SQLite each has its own store, and in PostgreSQL
 * the rollup locks the table against concurrent writers, so a second instance finds nothing left to do.
 * It also forgets the marks of batches received more than BATCH_MARK_RETENTION_MS (48 h) ago.
 */
@Injectable()
export class UsageRetentionScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(UsageRetentionScheduler.name);
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;

  constructor(
    @Inject(USAGE_STORE) private readonly store: UsageStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  onApplicationBootstrap(): void {
    this.tick();
    this.timer = setInterval(() => this.tick(), RUN_EVERY_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One pass; returns the rows removed (net) by each rollup, and the batch marks forgotten. */
  async runOnce(): Promise<{ hour: number; day: number; batches: number }> {
    const now = this.clock.now().getTime();
    const { minuteDays, hourDays } = this.config.usageRetention;
    const hourCutoff = new Date(Math.floor((now - minuteDays * DAY_MS) / HOUR_MS) * HOUR_MS).toISOString();
    const dayCutoff = new Date(Math.floor((now - hourDays * DAY_MS) / DAY_MS) * DAY_MS).toISOString();
    const hour = await this.store.rollUp('hour', hourCutoff);
    const day = await this.store.rollUp('day', dayCutoff);
    const batches = await this.store.forgetBatches(new Date(now - BATCH_MARK_RETENTION_MS).toISOString());
    return { hour, day, batches };
  }

  private tick(): void {
    if (this.running !== null) return;
    this.running = this.runOnce()
      .catch((error) => this.logger.error(`usage retention run failed: ${(error as Error).message}`))
      .finally(() => {
        this.running = null;
      });
  }
}
