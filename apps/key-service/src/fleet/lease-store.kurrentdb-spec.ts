import { randomBytes } from 'node:crypto';
import { KurrentDbEventStore } from '@lib/event-store/kurrentdb.event-store';
import { EventStreamLeaseStore } from './event-stream.lease-store';
import { leaseStoreContract } from './lease-store.contract';

/** Runs when KURRENTDB_CONNECTION_STRING names a server (npm run test:kurrentdb); job names are unique per test. */
const connectionString = process.env.KURRENTDB_CONNECTION_STRING ?? '';
const ns = `leases${randomBytes(4).toString('hex')}`;

leaseStoreContract('KurrentDB lease streams', {
  open: async () => {
    const store = await KurrentDbEventStore.connect(connectionString);
    const leases = new EventStreamLeaseStore(store);
    // The event store is the lease store's to close here (in the service it closes with the service).
    return Object.assign(leases, { close: () => store.close() });
  },
});

describe(`KurrentDB lease streams (${ns})`, () => {
  it('keep only their last events ($maxCount)', async () => {
    const store = await KurrentDbEventStore.connect(connectionString);
    try {
      const leases = new EventStreamLeaseStore(store);
      const job = `${ns}-trim`;
      const token = (await leases.acquire(job, 'a', 5000))!;
      for (let i = 0; i < 40; i++) await leases.renew(job, 'a', token, 5000);
      expect((await store.readStream(`lease-${job}`)).length).toBeLessThanOrEqual(16);
      expect(await leases.renew(job, 'a', token, 5000)).toBe(true);
    } finally {
      await store.close();
    }
  });
});
