import { freshDatabase } from '../../../../test/support/postgres';
import { leaseStoreContract } from './lease-store.contract';
import { PostgresLeaseStore } from './postgres.lease-store';

let url: string;
beforeAll(async () => {
  url = await freshDatabase();
});

leaseStoreContract('PostgreSQL', { open: () => PostgresLeaseStore.connect(url) });

describe('PostgreSQL lease store', () => {
  it('instances starting together create the tables once, and share the leases', async () => {
    const stores = await Promise.all(Array.from({ length: 4 }, () => PostgresLeaseStore.connect(url)));
    try {
      const tokens = await Promise.all(stores.map((store, i) => store.acquire('shared-job', `i${i}`, 5000)));
      expect(tokens.filter((t) => t !== null)).toHaveLength(1);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  });
});
