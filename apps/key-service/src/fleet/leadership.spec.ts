import { Logger } from '@nestjs/common';
import { InMemoryEventStore } from '@lib/event-store';
import { AppConfig } from '../config/app.config';
import { Metrics } from '../observability/metrics';
import { EventStreamLeaseStore } from './event-stream.lease-store';
import { HeldLease, LeaderJob, Leadership } from './leadership';
import { LeaseStore, ProcessLeaseStore } from './lease-store';
import { leaseStoreContract } from './lease-store.contract';
import Database from 'better-sqlite3';

leaseStoreContract('event-stream (in-memory store)', { open: async () => new EventStreamLeaseStore(new InMemoryEventStore()) });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const TTL_MS = 1000;

/** A lease store that can be cut off, as a leader's store connection is when its process is paused or partitioned. */
class Severable implements LeaseStore {
  severed = false;
  constructor(private readonly inner: LeaseStore) {}
  get kind() {
    return this.inner.kind;
  }
  private check() {
    if (this.severed) return Promise.reject(new Error('connection lost'));
    return Promise.resolve();
  }
  acquire(...a: Parameters<LeaseStore['acquire']>) {
    return this.check().then(() => this.inner.acquire(...a));
  }
  renew(...a: Parameters<LeaseStore['renew']>) {
    return this.check().then(() => this.inner.renew(...a));
  }
  release(...a: Parameters<LeaseStore['release']>) {
    return this.check().then(() => this.inner.release(...a));
  }
  holder(job: string) {
    return this.inner.holder(job);
  }
  loadCheckpoint(...a: Parameters<LeaseStore['loadCheckpoint']>) {
    return this.check().then(() => this.inner.loadCheckpoint(...a));
  }
  saveCheckpoint(...a: Parameters<LeaseStore['saveCheckpoint']>) {
    return this.check().then(() => this.inner.saveCheckpoint(...a));
  }
  async close() {}
}

/** A job that records when it runs, and writes its checkpoint every 20 ms while it leads. */
class RecordingJob implements LeaderJob {
  readonly name = 'expiry-scheduler' as const;
  lease: HeldLease | null = null;
  starts = 0;
  stops = 0;
  refusedWrites = 0;
  private timer: NodeJS.Timeout | null = null;
  constructor(private readonly position: { n: number }) {}
  start(lease: HeldLease) {
    this.lease = lease;
    this.starts++;
    this.timer = setInterval(async () => {
      if (!lease.isValid()) return;
      if (!(await lease.saveCheckpoint('c', ++this.position.n).catch(() => false))) this.refusedWrites++;
    }, 20);
  }
  async stop() {
    if (this.timer) clearInterval(this.timer);
    this.lease = null;
    this.stops++;
  }
}

function leadership(store: LeaseStore, id: string): Leadership {
  return new Leadership(store, { leaseTtlMs: TTL_MS, instanceId: id } as AppConfig, new Metrics());
}

beforeAll(() => Logger.overrideLogger(false));

describe('Leadership', () => {
  it('runs a job on exactly one of three instances, and another takes it over within LEASE_TTL_MS after the leader is cut off', async () => {
    const shared = new EventStreamLeaseStore(new InMemoryEventStore());
    const stores = [0, 1, 2].map(() => new Severable(shared));
    const position = { n: 0 };
    const jobs = stores.map(() => new RecordingJob(position));
    const instances = stores.map((store, i) => leadership(store, `i${i}`));
    instances.forEach((instance, i) => instance.run(jobs[i]));
    await sleep(300);
    expect(jobs.filter((job) => job.lease !== null)).toHaveLength(1);
    const leader = jobs.findIndex((job) => job.lease !== null);
    expect(instances[leader].leading).toEqual(['expiry-scheduler']);

    // The leader loses its store (a paused or partitioned process): it must stop before its lease could
    // have passed to another, and another must take over within the TTL.
    const cutAt = Date.now();
    stores[leader].severed = true;
    let takenAt = 0;
    while (Date.now() - cutAt < 3 * TTL_MS) {
      const others = jobs.filter((job, i) => i !== leader && job.lease !== null);
      if (others.length > 0 && takenAt === 0) takenAt = Date.now();
      // Never two at once: the old leader stops (its lease no longer surely holds) before the new one starts.
      expect(jobs.filter((job) => job.lease !== null && job.lease.isValid()).length).toBeLessThanOrEqual(1);
      if (takenAt !== 0) break;
      await sleep(10);
    }
    expect(takenAt).toBeGreaterThan(0);
    expect(takenAt - cutAt).toBeLessThanOrEqual(TTL_MS + 100);
    expect(jobs[leader].stops).toBe(1);
    expect(instances[leader].leading).toEqual([]);

    // The old leader comes back: it is refused and stays a follower; the checkpoint only moves forward.
    const before = (await shared.loadCheckpoint('c', 'expiry-scheduler'))!;
    stores[leader].severed = false;
    await sleep(TTL_MS);
    expect(jobs.filter((job) => job.lease !== null)).toHaveLength(1);
    expect(jobs[leader].lease).toBeNull();
    expect((await shared.loadCheckpoint('c', 'expiry-scheduler'))!).toBeGreaterThanOrEqual(before);
    await Promise.all(instances.map((instance) => instance.onApplicationShutdown()));
    expect(jobs.every((job) => job.lease === null)).toBe(true);
  });

  it('a graceful stop gives the lease up, so another instance takes the job without waiting it out', async () => {
    const shared = new EventStreamLeaseStore(new InMemoryEventStore());
    const position = { n: 0 };
    const first = new RecordingJob(position);
    const second = new RecordingJob(position);
    const a = leadership(shared, 'a');
    a.run(first);
    await sleep(50);
    expect(first.lease).not.toBeNull();
    const b = leadership(shared, 'b');
    b.run(second);
    await sleep(50);
    expect(second.lease).toBeNull();
    const stoppedAt = Date.now();
    await a.onApplicationShutdown();
    while (second.lease === null && Date.now() - stoppedAt < TTL_MS) await sleep(10);
    // The follower polls every 0.2 × TTL: it needs no more than that, not the lease's 0.8 × TTL.
    expect(Date.now() - stoppedAt).toBeLessThan(0.2 * TTL_MS + 150);
    await b.onApplicationShutdown();
  });

  it('two processes given the same INSTANCE_ID are still two holders: only one leads', async () => {
    const shared = new EventStreamLeaseStore(new InMemoryEventStore());
    const position = { n: 0 };
    const jobs = [new RecordingJob(position), new RecordingJob(position)];
    const instances = jobs.map(() => leadership(shared, 'same-name'));
    instances.forEach((instance, i) => instance.run(jobs[i]));
    await sleep(300);
    expect(jobs.filter((job) => job.lease !== null)).toHaveLength(1);
    await Promise.all(instances.map((instance) => instance.onApplicationShutdown()));
  });

  it('on the embedded store the process leads every job at once', async () => {
    const db = new Database(':memory:');
    const instance = leadership(new ProcessLeaseStore(db), 'solo');
    const job = new RecordingJob({ n: 0 });
    instance.run(job);
    await sleep(30);
    expect(job.lease?.fencingToken).toBe(1);
    expect(await job.lease!.saveCheckpoint('kafka:t', 42)).toBe(true);
    expect(await job.lease!.loadCheckpoint('kafka:t')).toBe(42);
    await instance.onApplicationShutdown();
    expect(job.stops).toBe(1);
    db.close();
  });
});
