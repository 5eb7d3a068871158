import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { APP_CONFIG, AppConfig } from '../config/app.config';
import { Metrics } from '../observability/metrics';
import { LEASE_STORE, LeaseStore } from './lease-store';

/** The jobs that run on one instance at a time (lease names; `key_service_lease_held{lease}`). */
export type LeaderJobName = 'revocation-relay' | 'expiry-scheduler' | 'data-key-sweep' | 'quota-reset-scheduler';

/** What a job gets while it leads: its fencing token, a validity check and its fenced checkpoints. */
export interface HeldLease {
  readonly job: LeaderJobName;
  readonly fencingToken: number;
  /**
   * True while the lease is certainly still this instance's: until the last successful take or renewal
   * was sent, plus the lease's duration (by this process's monotonic clock). A job checks it before each
   * external effect (a Kafka send, an expiry), so a paused leader stops before it produces again.
   */
  isValid(): boolean;
  loadCheckpoint(name: string): Promise<number | null>;
  /** Fenced (see LeaseStore.saveCheckpoint); false means the lease is lost and the job must stop. */
  saveCheckpoint(name: string, position: number): Promise<boolean>;
}

/** A singleton job: started when this instance takes its lease, stopped when it loses or gives it up. */
export interface LeaderJob {
  readonly name: LeaderJobName;
  /** Starts the job in the background; it runs until `stop`. */
  start(lease: HeldLease): void | Promise<void>;
  /** Stops the job; resolves once it has stopped producing (an in-flight send finishes). */
  stop(): Promise<void>;
}

interface Running {
  readonly job: LeaderJob;
  lease: (HeldLease & { validUntil: number }) | null;
  timer: NodeJS.Timeout | null;
  /** The loop's step in progress (take, renew or stop), awaited at shutdown. */
  step: Promise<void> | null;
  failingSince: number | null;
}

/**
 * Runs each singleton job on exactly one instance of a fleet, by a lease in the shared store
 * (LEASE_TTL_MS, default 10,000 ms). Of the bound:
 *  - a lease is taken for 0.8 × LEASE_TTL_MS and renewed every 0.25 × LEASE_TTL_MS (three renewals
 *    fit in one lease, so one slow renewal does not lose it);
 *  - an instance that does not lead tries to take the lease every 0.2 × LEASE_TTL_MS;
 *  so after a leader dies (kill -9) another takes its jobs at most LEASE_TTL_MS after its last renewal.
 * A leader that fails to renew (the store refuses: another holds it; or it cannot be reached until the
 * lease would have run out) stops the job at once. On SQLite the process leads every job.
 */
@Injectable()
export class Leadership implements OnApplicationShutdown {
  private readonly logger = new Logger('Leadership');
  private readonly jobs = new Map<LeaderJobName, Running>();
  private stopped = false;
  private shutdown: Promise<void> | undefined;
  readonly holderId: string;
  private readonly durationMs: number;
  private readonly renewMs: number;
  private readonly pollMs: number;

  constructor(
    @Inject(LEASE_STORE) private readonly store: LeaseStore,
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly metrics: Metrics,
  ) {
    // A random part per process: two processes given one INSTANCE_ID (a template shared by replicas) are still
    // two holders, so they cannot both lead under one name and one fencing token.
    this.holderId = `${config.instanceId}/${randomBytes(6).toString('hex')}`;
    this.durationMs = Math.round(config.leaseTtlMs * 0.8);
    this.renewMs = Math.round(config.leaseTtlMs * 0.25);
    this.pollMs = Math.round(config.leaseTtlMs * 0.2);
  }

  /** The jobs this instance leads now, for /readyz and the metrics. */
  get leading(): LeaderJobName[] {
    return [...this.jobs.values()].filter((r) => r.lease !== null && r.lease.isValid()).map((r) => r.job.name);
  }

  /** Takes part in the election for `job` from now on; the job starts when this instance takes its lease. */
  run(job: LeaderJob): void {
    if (this.stopped || this.jobs.has(job.name)) return;
    const running: Running = { job, lease: null, timer: null, step: null, failingSince: null };
    this.jobs.set(job.name, running);
    this.metrics.leaseHeld.set({ lease: job.name }, 0);
    this.schedule(running, 0);
  }

  /** Stops every job it leads and gives the leases up, so another instance takes them without waiting. */
  onApplicationShutdown(): Promise<void> {
    this.shutdown ??= this.shutDown();
    return this.shutdown;
  }

  private async shutDown(): Promise<void> {
    this.stopped = true;
    await Promise.all(
      [...this.jobs.values()].map(async (running) => {
        if (running.timer) clearTimeout(running.timer);
        await running.step;
        await this.depose(running, 'released');
      }),
    );
    await this.store.close();
  }

  private schedule(running: Running, delayMs: number): void {
    if (this.stopped) return;
    running.timer = setTimeout(() => {
      running.timer = null;
      running.step = this.tick(running).finally(() => {
        running.step = null;
        this.schedule(running, running.lease !== null ? this.nextRenewalDelay(running) : this.pollMs);
      });
    }, delayMs);
    running.timer.unref();
  }

  /** While renewals fail, try again sooner, so one lost round trip does not cost the lease. */
  private nextRenewalDelay(running: Running): number {
    return running.failingSince === null ? this.renewMs : Math.max(50, Math.round(this.renewMs / 4));
  }

  private async tick(running: Running): Promise<void> {
    const sentAt = performance.now();
    try {
      if (running.lease === null) {
        const token = await this.store.acquire(running.job.name, this.holderId, this.durationMs);
        if (token !== null && !this.stopped) await this.elect(running, token, sentAt);
        running.failingSince = null;
        return;
      }
      const renewed = await this.store.renew(running.job.name, this.holderId, running.lease.fencingToken, this.durationMs);
      if (!renewed) {
        this.logger.warn(`lost the ${running.job.name} lease to another instance: stopping the job`);
        await this.depose(running, 'lost');
        return;
      }
      running.lease.validUntil = sentAt + this.durationMs;
      if (running.failingSince !== null) this.logger.log(`renewed the ${running.job.name} lease again`);
      running.failingSince = null;
    } catch (error) {
      if (running.failingSince === null) {
        running.failingSince = Date.now();
        this.logger.warn(`the lease store did not answer for ${running.job.name} (${(error as Error).message}); retrying`);
      }
      // A leader that cannot renew keeps the job only while its lease surely lasts.
      if (running.lease !== null && !running.lease.isValid()) {
        this.logger.warn(`the ${running.job.name} lease ran out before it could be renewed: stopping the job`);
        await this.depose(running, 'lost');
      }
    }
  }

  private async elect(running: Running, fencingToken: number, sentAt: number): Promise<void> {
    const name = running.job.name;
    const lease = {
      job: name,
      fencingToken,
      validUntil: sentAt + this.durationMs,
      isValid: () => performance.now() < lease.validUntil && running.lease === lease,
      loadCheckpoint: (checkpoint: string) => this.store.loadCheckpoint(checkpoint, name),
      saveCheckpoint: async (checkpoint: string, position: number) => {
        if (!lease.isValid()) return false;
        return this.store.saveCheckpoint(checkpoint, position, name, fencingToken);
      },
    };
    running.lease = lease;
    this.metrics.leaseHeld.set({ lease: name }, 1);
    this.metrics.leaseTransitions.inc({ lease: name, transition: 'acquired' });
    if (this.store.kind !== 'process') this.logger.log(`took the ${name} lease (fencing token ${fencingToken}): starting the job here`);
    try {
      await running.job.start(lease);
    } catch (error) {
      this.logger.error(`the ${name} job could not start: ${(error as Error).message}; giving the lease up`);
      await this.depose(running, 'released');
    }
  }

  private async depose(running: Running, transition: 'lost' | 'released'): Promise<void> {
    const lease = running.lease;
    if (lease === null) return;
    running.lease = null;
    this.metrics.leaseHeld.set({ lease: running.job.name }, 0);
    this.metrics.leaseTransitions.inc({ lease: running.job.name, transition });
    await running.job.stop().catch((error: unknown) => this.logger.error(`stopping ${running.job.name}: ${(error as Error).message}`));
    if (transition === 'released') {
      await this.store.release(running.job.name, this.holderId, lease.fencingToken).catch(() => undefined);
    }
  }
}
