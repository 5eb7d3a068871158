import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/app.config';
import { HeldLease, Leadership } from '../fleet/leadership';
import { QuotaService } from './quota.service';

/**
 * Appends ModelAccessKeyQuotaReset when a spent quota's period ends (00:00 UTC, or the 1st), every
 * EXPIRY_SCAN_MS. The decider gives no event for a quota not spent or not yet due, so a second run or a
 * second instance writes nothing more. In a fleet it runs on the instance holding the
 * `quota-reset-scheduler` lease. Verification admits the key from the reset instant on, before the
 * event is written; the event's feed record makes the gateways drop their USAGE_EXCEEDED answers.
 */
@Injectable()
export class QuotaResetScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(QuotaResetScheduler.name);
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private lease: HeldLease | null = null;

  constructor(
    private readonly quotas: QuotaService,
    private readonly leadership: Leadership,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.leadership.run({
      name: 'quota-reset-scheduler',
      start: (lease) => {
        this.lease = lease;
        this.timer = setInterval(() => this.tick(), this.config.expiryScanMs);
        this.timer.unref();
      },
      stop: () => this.standDown(),
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.standDown();
  }

  private tick(): void {
    if (this.running !== null || this.lease === null || !this.lease.isValid()) return;
    this.running = this.quotas
      .resetDue()
      .catch((error) => this.logger.error(`quota reset run failed: ${(error as Error).message}`))
      .finally(() => {
        this.running = null;
      });
  }

  private async standDown(): Promise<void> {
    this.lease = null;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
