import { createParser } from 'eventsource-parser';
import * as zlib from 'node:zlib';
import { GatewayProcess, Upstream, eventually, rawRequest, rigGatewayEnv, startGateway, startUpstream } from './support/gateway-process';
import { ServiceProcess, api, startService } from './support/service-process';

const KEYS = '/v2/gen-ai/models/api_keys';
const CHAT = { model: 'llama3-8b-instruct', messages: [{ role: 'user', content: 'hello' }] };

/**
 * A compressed upstream answer does not dodge the token charge: the upstream (or a proxy in front of
 * it) gzips every answer whatever it is asked, 12 prompt + 30 completion tokens each.
 */
describe('the reference gateway reads the usage of compressed upstream answers', () => {
  let service: ServiceProcess;
  let gzipUpstream: Upstream;
  let unknownUpstream: Upstream;
  let gateway: GatewayProcess; // no usage reports: a token limit makes it count
  let reporting: GatewayProcess; // usage reports every 200 ms
  let unknown: GatewayProcess; // in front of an upstream whose encoding cannot be decoded
  let owner: string;

  beforeAll(async () => {
    service = await startService({ env: { REVOCATION_HEARTBEAT_MS: '200' } });
    gzipUpstream = await startUpstream({ prompt_tokens: 12, completion_tokens: 30 }, { encoding: 'gzip' });
    unknownUpstream = await startUpstream({ prompt_tokens: 12, completion_tokens: 30 }, { encoding: 'x-unknown' });
    [gateway, reporting, unknown] = await Promise.all([
      startGateway(rigGatewayEnv(service, gzipUpstream, { RATE_LIMIT_REDIS_URL: '', GATEWAY_USAGE_REPORT_MS: '0' })),
      startGateway(rigGatewayEnv(service, gzipUpstream, { RATE_LIMIT_REDIS_URL: '', GATEWAY_USAGE_REPORT_MS: '200' })),
      startGateway(rigGatewayEnv(service, unknownUpstream, { RATE_LIMIT_REDIS_URL: '', GATEWAY_USAGE_REPORT_MS: '200' })),
    ]);
    owner = service.token('team-1', 'u1', 'owner');
  });
  afterAll(async () => {
    await Promise.all([gateway?.kill(), reporting?.kill(), unknown?.kill()]);
    await service?.kill();
    await gzipUpstream?.close();
    await unknownUpstream?.close();
  });

  const create = async (limits?: Record<string, unknown>) => {
    const res = await api(service.baseUrl, 'POST', KEYS, owner, { name: 'compressed', ...(limits ? { limits } : {}) });
    expect(res.status).toBe(200);
    return res.body.api_key_info as { uuid: string; secret_key: string };
  };
  const chat = (target: GatewayProcess, secret: string, extra: object = {}, headers: Record<string, string> = {}) =>
    rawRequest(target.baseUrl, 'POST', '/v1/chat/completions', { 'content-type': 'application/json', authorization: `Bearer ${secret}`, ...headers }, JSON.stringify({ ...CHAT, ...extra }));
  /** The events of an SSE answer's bytes (JSON data parsed, `[DONE]` as is). */
  const eventsOf = (body: Buffer) => {
    const events: unknown[] = [];
    createParser({ onEvent: (event) => events.push(event.data === '[DONE]' ? event.data : JSON.parse(event.data)) }).feed(body.toString('utf8'));
    return events;
  };
  const usageOf = async (key: { uuid: string }) => (await api(service.baseUrl, 'GET', `/v1/usage/keys/${key.uuid}?granularity=minute`, owner)).body;

  it('a gzip JSON answer is charged: the call that crosses tokens_per_minute passes, the next is 429', async () => {
    const key = await create({ tokens_per_minute: 40 }); // one answer is 42 tokens
    const first = await chat(gateway, key.secret_key);
    expect(first.status).toBe(200);
    expect(JSON.parse(first.body.toString('utf8')).usage).toMatchObject({ prompt_tokens: 12, completion_tokens: 30 });
    const refused = await chat(gateway, key.secret_key);
    expect(refused.status).toBe(429);
    expect(JSON.parse(refused.body.toString('utf8')).error).toMatchObject({ code: 'RATE_LIMITED' });
  });

  it('a gzip SSE answer is charged, and reaches the client decoded', async () => {
    const key = await create({ tokens_per_minute: 40 });
    const first = await chat(gateway, key.secret_key, { stream: true });
    expect(first.status).toBe(200);
    expect(first.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(first.headers['content-encoding']).toBeUndefined();
    const events = eventsOf(first.body);
    expect(events.at(-2)).toMatchObject({ choices: [], usage: { prompt_tokens: 12, completion_tokens: 30 } });
    expect(events.at(-1)).toBe('[DONE]');
    expect((await chat(gateway, key.secret_key, { stream: true })).status).toBe(429);
  });

  it('a gzip SSE answer is decoded as it arrives: the first event reaches the client long before the upstream ends', async () => {
    const key = await create({ tokens_per_minute: 100_000 });
    const response = await fetch(`${gateway.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key.secret_key}` },
      body: JSON.stringify({ ...CHAT, stream: true }),
    });
    const arrivals: number[] = [];
    const parser = createParser({ onEvent: () => arrivals.push(Date.now()) });
    const decoder = new TextDecoder();
    for await (const piece of response.body!) parser.feed(decoder.decode(piece, { stream: true }));
    expect(arrivals).toHaveLength(6); // four chunks, the usage chunk, [DONE]
    const ended = gzipUpstream.streams.at(-1)!.endedAt!;
    // The upstream spends 6 gaps of STREAM_EVENT_GAP_MS (300 ms) after its first event.
    expect(ended - arrivals[0]).toBeGreaterThan(900);
  });

  it('a client that asks for gzip gets a readable answer: decoded, without content-encoding; the upstream is asked for identity', async () => {
    const key = await create({ tokens_per_minute: 100_000 });
    const answer = await chat(gateway, key.secret_key, {}, { 'accept-encoding': 'gzip, br' });
    expect(answer.status).toBe(200);
    expect(answer.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(answer.body.toString('utf8'))).toMatchObject({ object: 'chat.completion', choices: [{ message: { content: 'hi' } }] });
    const forwarded = gzipUpstream.calls.filter((call) => call.keyUuid === key.uuid);
    expect(forwarded.map((call) => call.acceptEncoding)).toEqual(['identity']);
  });

  it("with usage reports on, the key's usage shows the tokens of a gzip JSON answer and a gzip SSE answer", async () => {
    const key = await create(); // no limits: the reports alone make the gateway count tokens
    expect((await chat(reporting, key.secret_key, {}, { 'accept-encoding': 'gzip' })).status).toBe(200);
    expect((await chat(reporting, key.secret_key, { stream: true }, { 'accept-encoding': 'gzip' })).status).toBe(200);
    await eventually(async () => (await usageOf(key)).totals.output_tokens >= 60, 5000, 'the reported tokens of both answers');
    expect((await usageOf(key)).totals).toMatchObject({ requests: 2, input_tokens: 24, output_tokens: 60 });
  });

  it('tokens not counted: the call keeps its Accept-Encoding and the compressed answer passes untouched', async () => {
    const quiet = await startGateway(rigGatewayEnv(service, gzipUpstream, { RATE_LIMIT_REDIS_URL: '', GATEWAY_USAGE_REPORT_MS: '0' }));
    try {
      const free = await create({ requests_per_minute: 100 });
      const answer = await chat(quiet, free.secret_key, {}, { 'accept-encoding': 'gzip' });
      expect(answer.headers['content-encoding']).toBe('gzip');
      expect(JSON.parse(zlib.gunzipSync(answer.body).toString('utf8')).object).toBe('chat.completion');
      expect(gzipUpstream.calls.filter((call) => call.keyUuid === free.uuid).map((call) => call.acceptEncoding)).toEqual(['gzip']);
    } finally {
      await quiet.kill();
    }
  });

  it('an encoding the gateway cannot decode passes untouched, with one warning per answer naming the key, never its secret', async () => {
    const key = await create();
    const json = await chat(unknown, key.secret_key);
    expect(json.status).toBe(200);
    expect(json.headers['content-encoding']).toBe('x-unknown');
    expect(JSON.parse(json.body.toString('utf8')).usage).toMatchObject({ prompt_tokens: 12 }); // the bytes as they came
    const streamed = await chat(unknown, key.secret_key, { stream: true });
    expect(streamed.headers['content-encoding']).toBe('x-unknown');
    expect(eventsOf(streamed.body).at(-1)).toBe('[DONE]');
    const warnings = () => unknown.output().split('\n').filter((line) => line.includes('x-unknown'));
    await eventually(async () => warnings().length >= 2, 2000, 'a warning for each answer');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(warnings()).toHaveLength(2);
    for (const line of warnings()) {
      expect(JSON.parse(line)).toMatchObject({ level: 'warn' });
      expect(line).toContain(key.uuid);
      expect(line).toContain('usage');
      expect(line).not.toContain(key.secret_key);
    }
  });
});
