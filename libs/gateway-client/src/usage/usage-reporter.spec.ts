import { randomUUID } from 'node:crypto';
import { validateInput } from '../../../../apps/key-service/src/common/validation';
import { UsageReportRequest } from '../../../../apps/key-service/src/usage/usage-report.request.dto';
import { MAX_USAGE_COUNT, UsageBatchBody, UsageRefusal, UsageReporter } from './usage-reporter';

const T0 = Date.parse('2026-11-22T10:07:30.000Z');

describe('the usage reporter', () => {
  const errors: string[] = [];
  const make = (send: (batch: UsageBatchBody) => Promise<'taken' | UsageRefusal>) =>
    new UsageReporter(send, { intervalMs: 1000, gatewayId: 'gw a', onError: (message) => errors.push(message) });
  beforeEach(() => (errors.length = 0));

  it('sums per key, minute and model, with denials by code, in one numbered batch', async () => {
    const sent: UsageBatchBody[] = [];
    const reporter = make(async (batch) => (sent.push(batch), 'taken'));
    reporter.request('k1', 'llama3', T0);
    reporter.request('k1', 'llama3', T0 + 10_000);
    reporter.tokens('k1', 'llama3', 10, 5, T0 + 20_000);
    reporter.request('k1', 'llama3', T0 + 40_000); // the next minute
    reporter.denial('k2', undefined, 'RATE_LIMITED', T0);
    reporter.denial('k2', undefined, 'SERVICE_UNAVAILABLE', T0); // names no decision about the key: not counted
    await reporter.flush();
    expect(sent).toHaveLength(1);
    expect(sent[0].gateway_id).toMatch(/^gw_a:[0-9a-f]{8}$/);
    expect(sent[0].sequence).toBe(1);
    expect(sent[0].records).toEqual([
      { key_uuid: 'k1', minute: '2026-11-22T10:07:00.000Z', model: 'llama3', requests: 2, input_tokens: 10, output_tokens: 5, denials: {} },
      { key_uuid: 'k1', minute: '2026-11-22T10:08:00.000Z', model: 'llama3', requests: 1, input_tokens: 0, output_tokens: 0, denials: {} },
      { key_uuid: 'k2', minute: '2026-11-22T10:07:00.000Z', requests: 0, input_tokens: 0, output_tokens: 0, denials: { RATE_LIMITED: 1 } },
    ]);
    await reporter.flush();
    expect(sent).toHaveLength(1); // nothing new: nothing sent
  });

  it('a batch that was not taken is sent again as it was (same sequence); what came meanwhile goes in the next', async () => {
    const sent: UsageBatchBody[] = [];
    let fail = true;
    const reporter = make(async (batch) => {
      sent.push(batch);
      if (fail) throw new Error('connection reset');
      return 'taken';
    });
    reporter.request('k1', undefined, T0);
    await reporter.flush();
    reporter.request('k1', undefined, T0);
    fail = false;
    await reporter.flush();
    await reporter.flush();
    expect(sent.map((b) => [b.sequence, b.records[0].requests])).toEqual([
      [1, 1],
      [1, 1],
      [2, 1],
    ]);
    expect(reporter.failures).toBe(1);
    expect(reporter.sent).toBe(2);
  });

  it("a batch the service refuses (4xx) is dropped, not sent forever, and the service's answer is logged", async () => {
    const sent: UsageBatchBody[] = [];
    const reporter = make(async (batch) => (sent.push(batch), { refused: '400: records.0.minute must be the start of a minute' }));
    reporter.request('k1', undefined, T0);
    await reporter.flush();
    await reporter.flush();
    expect(sent).toHaveLength(1);
    expect(errors).toEqual(['usage report 1 refused by the key service (400: records.0.minute must be the start of a minute); dropped']);
  });

  it('two processes with the same configured id report under different gateway ids', () => {
    const send = async () => 'taken' as const;
    expect(make(send).gatewayId).not.toBe(make(send).gatewayId);
  });
});

describe('the usage reporter with more records than a batch takes', () => {
  it('sends them in several numbered batches of at most 100 in one flush', async () => {
    const sent: UsageBatchBody[] = [];
    const reporter = new UsageReporter(async (batch) => (sent.push(batch), 'taken'), { intervalMs: 1000 });
    for (let i = 0; i < 250; i++) reporter.request(`k${i}`, undefined, T0);
    await reporter.flush();
    expect(sent.map((b) => [b.sequence, b.records.length])).toEqual([
      [1, 100],
      [2, 100],
      [3, 50],
    ]);
  });
});

describe("the usage reporter holds each count to the key service's bound", () => {
  const key = randomUUID();
  const other = randomUUID();
  const collect = () => {
    const sent: UsageBatchBody[] = [];
    const reporter = new UsageReporter(async (batch) => (sent.push(batch), 'taken'), { intervalMs: 1000 });
    return { sent, reporter };
  };

  it('an answer reporting more tokens than the service takes counts as the most it takes', async () => {
    const { sent, reporter } = collect();
    reporter.tokens(key, 'm', 2e12, 5, T0);
    await reporter.flush();
    expect(sent[0].records[0]).toMatchObject({ input_tokens: MAX_USAGE_COUNT, output_tokens: 5 });
  });

  it("a record's sums stop at the bound, however many answers add to them", async () => {
    const { sent, reporter } = collect();
    for (let i = 0; i < 3; i++) reporter.tokens(key, 'm', 6e11, 6e11, T0);
    reporter.tokens(key, 'm', 1, 1, T0);
    await reporter.flush();
    expect(sent[0].records[0]).toMatchObject({ input_tokens: MAX_USAGE_COUNT, output_tokens: MAX_USAGE_COUNT });
  });

  it('counts that are not positive finite numbers add nothing; fractions are rounded down', async () => {
    const { sent, reporter } = collect();
    reporter.tokens(key, undefined, -5, Number.NaN, T0);
    reporter.tokens(key, undefined, 2.9, Number.POSITIVE_INFINITY, T0);
    await reporter.flush();
    expect(sent[0].records[0]).toMatchObject({ input_tokens: 2, output_tokens: 0 });
  });

  it("a batch with such a record, and another key's usage, passes the service's own validation", async () => {
    const { sent, reporter } = collect();
    reporter.tokens(key, 'm', 2e12, 3e12, T0);
    reporter.request(other, 'm', T0);
    reporter.tokens(other, 'm', 10, 5, T0);
    await reporter.flush();
    expect(sent[0].records).toHaveLength(2);
    expect(() => validateInput(UsageReportRequest, sent[0])).not.toThrow();
  });

  it("MAX_USAGE_COUNT is the service's bound: one more is refused by its validation", () => {
    const record = { key_uuid: key, minute: '2026-11-22T10:07:00.000Z', requests: 0, input_tokens: MAX_USAGE_COUNT, output_tokens: 0, denials: {} };
    expect(() => validateInput(UsageReportRequest, { gateway_id: 'gw:1', sequence: 1, records: [record] })).not.toThrow();
    expect(() => validateInput(UsageReportRequest, { gateway_id: 'gw:1', sequence: 1, records: [{ ...record, input_tokens: MAX_USAGE_COUNT + 1 }] })).toThrow(
      /input_tokens/,
    );
  });
});
