import { startTestApp } from '../../../../test/support/test-app';
import { describeUsageRetention } from './usage-retention.contract';

describeUsageRetention('SQLite', async () => ({}));

describe('usage retention settings', () => {
  it('refuses USAGE_HOURLY_RETENTION_DAYS below USAGE_RETENTION_DAYS, naming it', async () => {
    await expect(startTestApp({ env: { USAGE_RETENTION_DAYS: '10', USAGE_HOURLY_RETENTION_DAYS: '5' } })).rejects.toThrow(/USAGE_HOURLY_RETENTION_DAYS/);
  });
});
