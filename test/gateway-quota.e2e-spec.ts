import * as path from 'node:path';
import { GatewayProcess, Upstream, eventually, rigGatewayEnv, startGateway, startGatewayRig, startUpstream } from './support/gateway-process';
import { LossyProxy, startLossyProxy } from './support/lossy-proxy';
import { ServiceProcess, api, startService } from './support/service-process';

const KEYS = '/v2/gen-ai/models/api_keys';
const SHIFTED_CLOCK = path.join(__dirname, 'support', 'shifted-clock.cjs');
const MIDNIGHT = Date.parse('2027-01-01T00:00:00.000Z');
/**
 * How long before MIDNIGHT the shifted clock starts: starting the service and two gateways, and
 * spending the quota, fit in it (about 4 s here, under flock; 25 s leaves room for a loaded CI machine).
 */
const LEAD_MS = 25_000;
/** From midnight until both gateways admit: the scheduler's EXPIRY_SCAN_MS (1 s), its run, the feed. */
const RESET_BOUND_MS = 3000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Issue 19: a daily quota spent before 00:00 UTC and reset at it. The service and the gateways run on
 * one shifted clock (test/support/shifted-clock.cjs) that reaches midnight LEAD_MS after the rig
 * starts. This process's clock is not shifted: the service's time is read from its answers.
 */
describe('a daily request quota through two reference gateways, across 00:00 UTC', () => {
  let service: ServiceProcess;
  let upstream: Upstream;
  let gateways: GatewayProcess[] = [];
  let owner: string;

  beforeAll(async () => {
    const clock = {
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${SHIFTED_CLOCK}`.trim(),
      TEST_CLOCK_START: new Date(MIDNIGHT - LEAD_MS).toISOString(),
      TEST_CLOCK_REAL_START: String(Date.now()),
    };
    ({ service, upstream, gateways, owner } = await startGatewayRig(2, { ...clock, RATE_LIMIT_REDIS_URL: '', GATEWAY_USAGE_REPORT_MS: '200' }, undefined, clock));
  });
  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.kill()));
    await service?.kill();
    await upstream?.close();
  });

  /**
   * The service's clock minus this process's, from a usage read's `to` (now, on the service's clock),
   * taken as read halfway through the call; uncertainty: half the call's duration.
   */
  const serviceClock = async (keyUuid: string) => {
    const before = Date.now();
    const read = await api(service.baseUrl, 'GET', `/v1/usage/keys/${keyUuid}`, owner);
    const after = Date.now();
    expect(read.status).toBe(200);
    return { offsetMs: Date.parse(read.body.to) - (before + after) / 2, uncertaintyMs: (after - before) / 2 };
  };

  it('the reset admits again: refused with USAGE_EXCEEDED until 00:00 UTC, then the scheduler\'s quota_reset record reaches both gateways and both admit the key within 3 s', async () => {
    const created = await api(service.baseUrl, 'POST', KEYS, owner, { name: 'daily', limits: { quota: { requests: 3, period: 'day' } } });
    expect(created.status).toBe(200);
    const key = created.body.api_key_info as { uuid: string; secret_key: string };
    for (let i = 0; i < 3; i++) expect((await gateways[0].chat(key.secret_key)).status).toBe(200);
    // The report of the three spends the quota (the answer to it waits for ModelAccessKeyQuotaExhausted);
    // its quota_exhausted record then makes both gateways refuse.
    const info = async () => (await api(service.baseUrl, 'GET', `${KEYS}/${key.uuid}`, owner)).body.api_key_info;
    await eventually(async () => (await info()).usage.requests === 3, 3000, 'the report of the three calls');
    const refusals: Array<{ answer: Awaited<ReturnType<GatewayProcess['chat']>>; at: number }> = [];
    for (const gateway of gateways) {
      await eventually(
        async () => {
          const answer = await gateway.chat(key.secret_key);
          if (answer.status === 200) return false;
          refusals.push({ answer, at: Date.now() });
          return true;
        },
        5000,
        'the spent quota refused at the gateway',
      );
    }
    const { offsetMs, uncertaintyMs } = await serviceClock(key.uuid);
    const midnight = MIDNIGHT - offsetMs; // on this process's clock
    if (midnight - Date.now() < 1000) throw new Error(`the quota was spent only ${midnight - Date.now()} ms before midnight: the rig started too slowly for LEAD_MS`);
    for (const { answer, at } of refusals) {
      expect(answer).toMatchObject({ status: 429, body: { error: { code: 'USAGE_EXCEEDED', type: 'insufficient_quota' } } });
      expect(answer.body.error.message).toContain('until 2027-01-01T00:00:00.000Z');
      // Seconds until the reset on the gateway's clock, rounded up: the same shifted clock as the service's.
      const retryAfter = Number(answer.headers.get('retry-after'));
      expect(Math.abs(retryAfter - (midnight - at) / 1000)).toBeLessThanOrEqual(1.1);
    }

    // Until midnight every call is refused; after it, each gateway admits the key once the record reached it.
    const admittedAt: Array<number | null> = gateways.map(() => null);
    while (admittedAt.includes(null) && Date.now() < midnight + 10_000) {
      for (const [i, gateway] of gateways.entries()) {
        if (admittedAt[i] !== null) continue;
        const answer = await gateway.chat(key.secret_key);
        if (answer.status === 200) admittedAt[i] = Date.now();
        else expect(answer).toMatchObject({ status: 429, body: { error: { code: 'USAGE_EXCEEDED' } } });
      }
      await sleep(25);
    }
    for (const at of admittedAt) {
      expect(at).not.toBeNull();
      expect(at! - midnight).toBeGreaterThanOrEqual(-uncertaintyMs);
      expect(at! - midnight).toBeLessThan(RESET_BOUND_MS);
    }

    // The key's history: spent for 2026-12-31, reset by the scheduler just after midnight. The gateways
    // may admit before the scheduler has run (a cached denial is dropped at its resets_at, and the
    // service admits from that instant), so the reset is waited for.
    const history = async () => (await api(service.baseUrl, 'GET', `/v1/audit/keys/${key.uuid}/events`, owner)).body.events as Array<{ type: string; data: any; metadata: any; recorded_at: string }>;
    await eventually(async () => (await history()).length === 3, RESET_BOUND_MS, 'the scheduler\'s ModelAccessKeyQuotaReset');
    const events = await history();
    expect(events.map((e) => e.type)).toEqual(['ModelAccessKeyCreated', 'ModelAccessKeyQuotaExhausted', 'ModelAccessKeyQuotaReset']);
    const [, exhausted, reset] = events;
    expect(exhausted.data).toMatchObject({ periodStart: '2026-12-31T00:00:00.000Z', resetsAt: '2027-01-01T00:00:00.000Z', requests: 3 });
    expect(reset.metadata).toMatchObject({ actor: { userId: 'system:quota', role: 'system' } });
    const resetAt = Date.parse(reset.recorded_at);
    expect(resetAt).toBeGreaterThanOrEqual(MIDNIGHT);
    expect(resetAt - MIDNIGHT).toBeLessThan(RESET_BOUND_MS);

    // Its quota_reset record, applied by both gateways.
    const feed = await api(service.baseUrl, 'GET', '/v1/revocations?after=0', service.token('platform', 'gw', 'gateway'));
    const record = (feed.body.revocations as Array<{ reason: string; key_uuid: string; position: number }>).find((r) => r.reason === 'quota_reset' && r.key_uuid === key.uuid);
    expect(record).toBeDefined();
    for (const gateway of gateways) expect((await gateway.status()).position).toBeGreaterThanOrEqual(record!.position);

    // The new day counts from midnight: the two calls admitted after the reset.
    await eventually(async () => (await info()).usage.requests === 2, 3000, 'the new day\'s usage');
    expect((await info()).usage).toMatchObject({ period: 'day', since: '2027-01-01T00:00:00.000Z', requests: 2 });
  });
});

/**
 * Issue 19: a usage batch whose answer is lost after the service took it. The gateway reports through
 * a proxy that passes everything on (the revocation feed included) but drops the connection of the
 * first report with records once the service has answered it.
 */
describe('a usage report whose answer is lost, through a reference gateway', () => {
  const CALLS = 5;
  const USAGE = { prompt_tokens: 12, completion_tokens: 7 };
  let service: ServiceProcess;
  let proxy: LossyProxy;
  let upstream: Upstream;
  let gateway: GatewayProcess;
  let owner: string;

  beforeAll(async () => {
    service = await startService({ env: { REVOCATION_HEARTBEAT_MS: '200' } });
    proxy = await startLossyProxy(service.baseUrl);
    upstream = await startUpstream(USAGE);
    owner = service.token('team-1', 'u1', 'owner');
    gateway = await startGateway(rigGatewayEnv(service, upstream, { KEY_SERVICE_URL: proxy.url, RATE_LIMIT_REDIS_URL: '', GATEWAY_USAGE_REPORT_MS: '200' }));
  });
  afterAll(async () => {
    await gateway?.kill();
    await proxy?.close();
    await service?.kill();
    await upstream?.close();
  });

  it('a retried usage batch is counted once: the gateway sends the same gateway_id and sequence again, the service answers counted: false, and the usage shows each call once', async () => {
    const created = await api(service.baseUrl, 'POST', KEYS, owner, { name: 'metered' });
    const key = created.body.api_key_info as { uuid: string; secret_key: string };
    for (let i = 0; i < CALLS; i++) expect((await gateway.chat(key.secret_key)).status).toBe(200);

    const usage = async () => (await api(service.baseUrl, 'GET', `/v1/usage/keys/${key.uuid}`, owner)).body.totals;
    const retried = () => {
      const lost = proxy.usageReports.find((r) => r.answerLost);
      return lost && proxy.usageReports.find((r) => r !== lost && r.gatewayId === lost.gatewayId && r.sequence === lost.sequence);
    };
    const counted = (totals: { requests: number; input_tokens: number; output_tokens: number }) =>
      totals.requests >= CALLS && totals.input_tokens >= CALLS * USAGE.prompt_tokens && totals.output_tokens >= CALLS * USAGE.completion_tokens;
    await eventually(async () => retried() !== undefined && counted(await usage()), 5000, 'the retried report and every call counted');

    const lost = proxy.usageReports.find((r) => r.answerLost)!;
    expect(lost).toMatchObject({ status: 200, answer: { counted: true } });
    expect(lost.records).toBeGreaterThan(0);
    expect(retried()).toMatchObject({ records: lost.records, status: 200, answer: { counted: false }, answerLost: false });
    const status = await gateway.status();
    expect(status.usageReports.failures).toBeGreaterThanOrEqual(1);
    // Each call once, with the upstream's tokens: not twice the lost batch's share.
    expect(await usage()).toMatchObject({ requests: CALLS, input_tokens: CALLS * USAGE.prompt_tokens, output_tokens: CALLS * USAGE.completion_tokens });
  });
});
