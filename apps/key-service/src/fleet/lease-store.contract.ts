import { LeaseStore } from './lease-store';

export interface LeaseStoreSubject {
  /** A store with no leases yet (a fresh namespace is enough: jobs are named per test). */
  open(): Promise<LeaseStore>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let counter = 0;
/** Job names unique per test and run, so a shared server (KurrentDB, PostgreSQL) needs no emptying. */
const jobName = () => `contract-${process.pid}-${Date.now().toString(36)}-${counter++}`;

/**
 * One behaviour for every lease store with expiring leases (PostgreSQL rows, event streams): the same
 * tests run against each. Durations are short (300 ms) so that expiry is seen; nothing here is timed
 * beyond "after the lease ran out".
 */
export function leaseStoreContract(name: string, subject: LeaseStoreSubject): void {
  describe(`${name} lease store (contract)`, () => {
    let store: LeaseStore;
    beforeEach(async () => {
      store = await subject.open();
    });
    afterEach(async () => {
      await store.close();
    });

    it('grants a free lease with a fencing token, and says who holds it', async () => {
      const job = jobName();
      expect(await store.holder(job)).toBeNull();
      const token = await store.acquire(job, 'a', 5000);
      expect(token).toBeGreaterThanOrEqual(1);
      const held = await store.holder(job);
      expect(held).toMatchObject({ holder: 'a', fencingToken: token });
      expect(held!.remainingMs).toBeGreaterThan(4000);
      expect(held!.remainingMs).toBeLessThanOrEqual(5000);
    });

    it('refuses a held lease to another holder, and gives its holder the same token again', async () => {
      const job = jobName();
      const token = await store.acquire(job, 'a', 5000);
      expect(await store.acquire(job, 'b', 5000)).toBeNull();
      expect(await store.acquire(job, 'a', 5000)).toBe(token);
      expect(await store.renew(job, 'b', token!, 5000)).toBe(false);
      expect(await store.renew(job, 'a', token!, 5000)).toBe(true);
    });

    it('hands a lease that ran out to another holder with a larger token; the old holder can no longer renew', async () => {
      const job = jobName();
      const first = (await store.acquire(job, 'a', 300))!;
      await sleep(450);
      const second = await store.acquire(job, 'b', 5000);
      expect(second).toBeGreaterThan(first);
      expect(await store.renew(job, 'a', first, 5000)).toBe(false);
      expect((await store.holder(job))!.holder).toBe('b');
      // And back again: tokens only grow.
      await store.release(job, 'b', second!);
      expect(await store.acquire(job, 'a', 5000)).toBeGreaterThan(second!);
    });

    it('fences checkpoints: only the current token writes, so a paused old leader cannot move one back', async () => {
      const job = jobName();
      expect(await store.loadCheckpoint('relay', job)).toBeNull();
      const first = (await store.acquire(job, 'a', 300))!;
      expect(await store.saveCheckpoint('relay', 10, job, first)).toBe(true);
      expect(await store.loadCheckpoint('relay', job)).toBe(10);
      await sleep(450);
      // Ran out, nobody took over yet: still refused (the writer cannot know it still leads).
      expect(await store.saveCheckpoint('relay', 11, job, first)).toBe(false);
      const second = (await store.acquire(job, 'b', 5000))!;
      expect(await store.loadCheckpoint('relay', job)).toBe(10);
      expect(await store.saveCheckpoint('relay', 50, job, second)).toBe(true);
      // The old leader wakes up and writes what it had: refused, the checkpoint stays.
      expect(await store.saveCheckpoint('relay', 12, job, first)).toBe(false);
      expect(await store.loadCheckpoint('relay', job)).toBe(50);
    });

    it('a released lease is free at once', async () => {
      const job = jobName();
      const token = (await store.acquire(job, 'a', 60_000))!;
      await store.release(job, 'a', token);
      expect(await store.acquire(job, 'b', 5000)).toBeGreaterThan(token);
      // Releasing with a stale token changes nothing.
      await store.release(job, 'a', token);
      expect((await store.holder(job))!.holder).toBe('b');
    });

    it('of 12 holders racing for one free lease, exactly one wins', async () => {
      const job = jobName();
      const tokens = await Promise.all(Array.from({ length: 12 }, (_, i) => store.acquire(job, `h${i}`, 5000)));
      expect(tokens.filter((t) => t !== null)).toHaveLength(1);
      const winner = tokens.findIndex((t) => t !== null);
      expect((await store.holder(job))!.holder).toBe(`h${winner}`);
    });
  });
}
