import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { KEYS, TestApp, startTestApp } from '../../../../test/support/test-app';
import { UsageRetentionScheduler } from './usage-retention.scheduler';

/**
 * The retention scenario, on whichever store `env` selects (this file: SQLite; usage.pg-spec.ts runs it
 * on PostgreSQL). Now is 2026-11-22T10:07:30Z; minutes are kept 1 day, hours 2 days.
 */
export function describeUsageRetention(storeName: string, env: () => Promise<NodeJS.ProcessEnv>): void {
  describe(`usage retention (${storeName}): old minutes become hours, old hours become days, totals stay`, () => {
    const NOW = '2026-11-22T10:07:30.000Z';
    let now = NOW;
    const clock = { now: () => new Date(now) };
    let t: TestApp;
    let owner: string;
    let gateway: string;
    beforeEach(async () => {
      now = NOW;
      t = await startTestApp({ clock, env: { USAGE_RETENTION_DAYS: '1', USAGE_HOURLY_RETENTION_DAYS: '2', ...(await env()) } }, fs.mkdtempSync(path.join(os.tmpdir(), 'usage-retention-')));
      owner = t.token('team-1', '100', 'owner');
      gateway = t.token('platform', 'gw-1', 'gateway');
    });
    afterEach(() => t.close());

    let sequence = 0;
    /** Reported 30 s after the minute, as a gateway would (usage more than 48 h old is refused); the clock is then NOW again. */
    const report = async (keyUuid: string, minute: string, requests: number, model = 'm', denials = {}) => {
      now = new Date(Date.parse(minute) + 30_000).toISOString();
      expect(
        (await t.call('POST', '/v1/usage', { token: gateway, body: { gateway_id: 'gw-r:1', sequence: ++sequence, records: [{ key_uuid: keyUuid, minute, model, requests, input_tokens: requests * 10, output_tokens: requests, denials }] } }))
          .status,
      ).toBe(200);
      now = NOW;
    };
    const series = async (uuid: string, granularity: string, from: string, to = '2026-11-23T00:00:00Z') =>
      (await t.call('GET', `/v1/usage/keys/${uuid}?from=${from}&to=${to}&granularity=${granularity}`, { token: owner })).body as {
        series: Array<{ start: string; requests: number; input_tokens: number; denials: Record<string, number> }>;
        totals: { requests: number; input_tokens: number; output_tokens: number; denials: Record<string, number> };
      };

    it('rolls minutes past USAGE_RETENTION_DAYS into hours and hours past USAGE_HOURLY_RETENTION_DAYS into days; day totals, the quota period and last_used_at stay', async () => {
      const key = (await t.call('POST', KEYS, { token: owner, body: { name: 'k' } })).body.api_key_info as { uuid: string };
      await report(key.uuid, '2026-11-19T05:01:00Z', 1, 'm', { RATE_LIMITED: 2 });
      await report(key.uuid, '2026-11-19T06:02:00Z', 2, 'm', { RATE_LIMITED: 1 });
      await report(key.uuid, '2026-11-19T06:03:00Z', 4, 'other');
      await report(key.uuid, '2026-11-21T08:03:00Z', 8);
      await report(key.uuid, '2026-11-21T08:04:00Z', 16);
      await report(key.uuid, '2026-11-21T10:05:00Z', 32); // after the cutoff (2026-11-21T10:00): stays a minute
      await report(key.uuid, '2026-11-22T10:05:00Z', 64);
      const daysBefore = await series(key.uuid, 'day', '2026-11-01T00:00:00Z');
      const usageBefore = (await t.call('GET', `${KEYS}/${key.uuid}`, { token: owner })).body.api_key_info;

      const retention = t.app.get(UsageRetentionScheduler);
      // 5 minute rows into 4 hour rows; 3 of those into 2 day rows (2 models); the 3 batches of 2026-11-19 are past the 48 h of batch marks.
      expect(await retention.runOnce()).toEqual({ hour: 1, day: 1, batches: 3 });
      expect(await retention.runOnce()).toEqual({ hour: 0, day: 0, batches: 0 });

      expect(await series(key.uuid, 'day', '2026-11-01T00:00:00Z')).toEqual(daysBefore);
      expect(daysBefore.totals).toMatchObject({ requests: 127, input_tokens: 1270, output_tokens: 127, denials: { RATE_LIMITED: 3 } });
      const after = (await t.call('GET', `${KEYS}/${key.uuid}`, { token: owner })).body.api_key_info;
      expect(after.usage).toEqual(usageBefore.usage);
      expect(after.last_used_at).toBe('2026-11-22T10:05:00.000Z');
      // Past the hour retention, a minute series shows each day at its first minute; past the minute retention, each hour.
      expect((await series(key.uuid, 'minute', '2026-11-19T00:00:00Z', '2026-11-20T00:00:00Z')).series).toEqual([
        { start: '2026-11-19T00:00:00.000Z', requests: 7, input_tokens: 70, output_tokens: 7, denials: { RATE_LIMITED: 3 } },
      ]);
      expect((await series(key.uuid, 'minute', '2026-11-21T08:00:00Z', '2026-11-21T11:00:00Z')).series.map((b) => [b.start, b.requests])).toEqual([
        ['2026-11-21T08:00:00.000Z', 24],
        ['2026-11-21T10:05:00.000Z', 32],
      ]);

      // A late report for a minute already rolled up (sent now, 26 h after it) is added to its hour at the next run.
      expect(
        (await t.call('POST', '/v1/usage', { token: gateway, body: { gateway_id: 'gw-r:1', sequence: ++sequence, records: [{ key_uuid: key.uuid, minute: '2026-11-21T08:30:00Z', model: 'm', requests: 100, input_tokens: 1000, output_tokens: 100 }] } })).status,
      ).toBe(200);
      await retention.runOnce();
      expect((await series(key.uuid, 'hour', '2026-11-21T08:00:00Z', '2026-11-21T09:00:00Z')).series).toEqual([
        { start: '2026-11-21T08:00:00.000Z', requests: 124, input_tokens: 1240, output_tokens: 124, denials: {} },
      ]);
    });
  });
}
