import { createParser } from 'eventsource-parser';
import * as net from 'node:net';
import { GatewayProcess, STREAM_EVENT_GAP_MS, Upstream, eventually, rigGatewayEnv, startGateway, startGatewayRig } from './support/gateway-process';
import { ServiceProcess, api } from './support/service-process';

const KEYS = '/v2/gen-ai/models/api_keys';

interface StreamedAnswer {
  readonly status: number;
  readonly contentType: string | null;
  /** Each SSE event's data (JSON parsed, `[DONE]` as is) and when it reached the client (Date.now()). */
  readonly events: Array<{ data: any; at: number }>;
  /** The body of an answer that is not a stream (a refusal), parsed. */
  readonly json: any;
}

/**
 * A streamed chat completion through a gateway, read as it arrives. `leaveAfter`: the client drops
 * the connection once it has that many events.
 */
async function streamChat(gateway: GatewayProcess, secret: string, extra: object = {}, leaveAfter?: number): Promise<StreamedAnswer> {
  const abort = new AbortController();
  const response = await fetch(`${gateway.baseUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
    body: JSON.stringify({ model: 'llama3-8b-instruct', messages: [{ role: 'user', content: 'hello' }], stream: true, ...extra }),
    signal: abort.signal,
  });
  const contentType = response.headers.get('content-type');
  if (!contentType?.startsWith('text/event-stream')) return { status: response.status, contentType, events: [], json: await response.json() };
  const events: StreamedAnswer['events'] = [];
  const parser = createParser({ onEvent: (event) => events.push({ data: event.data === '[DONE]' ? event.data : JSON.parse(event.data), at: Date.now() }) });
  const decoder = new TextDecoder();
  try {
    for await (const piece of response.body!) {
      parser.feed(decoder.decode(piece, { stream: true }));
      if (leaveAfter !== undefined && events.length >= leaveAfter) {
        abort.abort();
        break;
      }
    }
  } catch (error) {
    if (!abort.signal.aborted) throw error;
  }
  return { status: response.status, contentType, events, json: undefined };
}

const contentOf = (answer: StreamedAnswer) =>
  answer.events
    .filter((e) => e.data !== '[DONE]')
    .map((e) => e.data.choices[0]?.delta?.content ?? '')
    .join('');

/**
 * Issue 19: a streamed answer's tokens are charged too. The upstream streams as OpenAI does, with its
 * usage chunk (12 prompt + 30 completion tokens) only when asked for it (stream_options.include_usage).
 */
describe('the reference gateway charges the tokens of streamed answers', () => {
  let service: ServiceProcess;
  let upstream: Upstream;
  let gateway: GatewayProcess; // no usage reports: only a token limit makes it count tokens
  let reporting: GatewayProcess; // usage reports every 200 ms
  let owner: string;

  beforeAll(async () => {
    ({ service, upstream, gateways: [gateway], owner } = await startGatewayRig(1, { RATE_LIMIT_REDIS_URL: '', GATEWAY_USAGE_REPORT_MS: '0' }, { prompt_tokens: 12, completion_tokens: 30 }));
    reporting = await startGateway(rigGatewayEnv(service, upstream, { RATE_LIMIT_REDIS_URL: '', GATEWAY_USAGE_REPORT_MS: '200' }));
  });
  afterAll(async () => {
    await gateway?.kill();
    await reporting?.kill();
    await service?.kill();
    await upstream?.close();
  });

  const create = async (limits?: Record<string, unknown>) => {
    const res = await api(service.baseUrl, 'POST', KEYS, owner, { name: 'streaming', ...(limits ? { limits } : {}) });
    expect(res.status).toBe(200);
    return res.body.api_key_info as { uuid: string; secret_key: string };
  };
  const forwardedFor = (key: { uuid: string }) => upstream.calls.filter((call) => call.keyUuid === key.uuid).map((call) => call.body);

  it('passes the stream on as it arrives: the first chunk reaches the client long before the upstream ends', async () => {
    const key = await create({ tokens_per_minute: 100_000 });
    const answer = await streamChat(gateway, key.secret_key);
    expect(answer.status).toBe(200);
    expect(answer.contentType).toMatch(/^text\/event-stream/);
    expect(contentOf(answer)).toBe('Hello!');
    expect(answer.events.map((e) => (e.data === '[DONE]' ? e.data : e.data.object))).toEqual([
      'chat.completion.chunk',
      'chat.completion.chunk',
      'chat.completion.chunk',
      'chat.completion.chunk',
      'chat.completion.chunk',
      '[DONE]',
    ]);
    const ended = upstream.streams.at(-1)!.endedAt!;
    // The upstream spends 6 gaps of 300 ms after the first event; a buffering gateway would deliver it after `ended`.
    expect(ended - answer.events[0].at).toBeGreaterThan(3 * STREAM_EVENT_GAP_MS);
    expect(answer.events.at(-1)!.at).toBeGreaterThanOrEqual(ended);
  });

  it('asks the upstream for usage; the client receives OpenAI\'s usage chunk before [DONE]', async () => {
    const key = await create({ tokens_per_minute: 100_000 });
    const answer = await streamChat(gateway, key.secret_key);
    expect(forwardedFor(key)).toEqual([expect.objectContaining({ stream: true, stream_options: { include_usage: true } })]);
    const [usageChunk, done] = answer.events.slice(-2).map((e) => e.data);
    expect(usageChunk).toMatchObject({ choices: [], usage: { prompt_tokens: 12, completion_tokens: 30, total_tokens: 42 } });
    expect(done).toBe('[DONE]');
  });

  it('tokens_per_minute: the streamed call whose tokens cross it passes whole, the next call is 429 RATE_LIMITED', async () => {
    const key = await create({ tokens_per_minute: 40 }); // one streamed answer is 42 tokens
    const first = await streamChat(gateway, key.secret_key);
    expect(first.status).toBe(200);
    expect(first.events.at(-1)!.data).toBe('[DONE]');
    const refused = await streamChat(gateway, key.secret_key);
    expect(refused.status).toBe(429);
    expect(refused.json.error).toMatchObject({ code: 'RATE_LIMITED', type: 'rate_limit_exceeded' });
    expect(refused.json.error.message).toContain('tokens_per_minute');
    expect(forwardedFor(key)).toHaveLength(1);
    // A JSON call of the same key is refused too: the budget is the key's, however it was spent.
    expect((await gateway.chat(key.secret_key)).status).toBe(429);
  });

  it("include_usage: false from the client is overridden (its other stream_options kept), so streaming cannot dodge the limit", async () => {
    const key = await create({ tokens_per_minute: 40 });
    const first = await streamChat(gateway, key.secret_key, { stream_options: { include_usage: false, include_obfuscation: false } });
    expect(forwardedFor(key)).toEqual([expect.objectContaining({ stream_options: { include_usage: true, include_obfuscation: false } })]);
    expect(first.events.at(-2)!.data.usage).toMatchObject({ prompt_tokens: 12, completion_tokens: 30 });
    expect((await streamChat(gateway, key.secret_key)).status).toBe(429);
  });

  it('tokens not counted (no token limit, no usage reports): the call goes upstream as the client sent it', async () => {
    const key = await create({ requests_per_minute: 100 });
    const answer = await streamChat(gateway, key.secret_key, { stream_options: { include_usage: false } });
    expect(forwardedFor(key)).toEqual([expect.objectContaining({ stream_options: { include_usage: false } })]);
    expect(contentOf(answer)).toBe('Hello!');
    expect(answer.events.some((e) => e.data !== '[DONE]' && e.data.usage)).toBe(false);
    expect(answer.events.at(-1)!.data).toBe('[DONE]');
  });

  it('a client that leaves mid-stream is still charged: the gateway reads the upstream answer to its end, and goes on serving', async () => {
    const key = await create({ tokens_per_minute: 40 }); // one streamed answer is 42 tokens
    const left = await streamChat(gateway, key.secret_key, {}, 1);
    expect(left.events).toHaveLength(1); // the usage chunk had not come yet
    const drained = upstream.streams.at(-1)!;
    await eventually(async () => drained.endedAt !== null, 5000, 'the upstream answer read to its end');
    expect(drained.cancelled).toBe(false);
    // Its 42 tokens were charged after the client left: the key's next call is over its budget.
    await eventually(async () => (await gateway.chat(key.secret_key)).status === 429, 2000, 'the next call refused');
    const other = await create({ tokens_per_minute: 100_000 });
    expect((await streamChat(gateway, other.secret_key)).events.at(-1)!.data).toBe('[DONE]');
  });

  it("with usage reports on, the key's usage read shows the streamed answer's input and output tokens", async () => {
    const key = await create(); // no limits: the reports alone make the gateway count tokens
    const answer = await streamChat(reporting, key.secret_key);
    expect(answer.events.at(-1)!.data).toBe('[DONE]');
    expect(forwardedFor(key)).toEqual([expect.objectContaining({ stream_options: { include_usage: true } })]);
    const usage = async () => (await api(service.baseUrl, 'GET', `/v1/usage/keys/${key.uuid}?granularity=minute`, owner)).body;
    // The request is reported once admitted, its tokens once the stream has ended: wait for the tokens.
    await eventually(async () => (await usage()).totals.output_tokens > 0, 5000, "the streamed answer's reported tokens");
    expect((await usage()).totals).toMatchObject({ requests: 1, input_tokens: 12, output_tokens: 30 });
  });
  it('SIGTERM: an answer in flight gets GATEWAY_SHUTDOWN_GRACE_MS, then every connection is cut and the gateway exits, a silent spare connection included', async () => {
    const doomed = await startGateway(rigGatewayEnv(service, upstream, { RATE_LIMIT_REDIS_URL: '', GATEWAY_USAGE_REPORT_MS: '0', GATEWAY_SHUTDOWN_GRACE_MS: '1000' }));
    const key = await create({ tokens_per_minute: 100_000 });
    // A connection that never sends a request (as fetch opens a spare one), and a stream being read.
    const port = Number(new URL(doomed.baseUrl).port);
    const spare = net.connect(port, '127.0.0.1');
    spare.on('error', () => undefined);
    await new Promise((resolve) => spare.once('connect', resolve));
    const response = await fetch(`${doomed.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key.secret_key}` },
      body: JSON.stringify({ model: 'llama3-8b-instruct', stream: true }),
    });
    const reader = response.body!.getReader();
    expect((await reader.read()).done).toBe(false);
    const started = Date.now();
    await doomed.kill('SIGTERM');
    const took = Date.now() - started;
    // The stream (5 events 300 ms apart) could not finish in the 1 s grace: cut at about 1 s, well before Node's 60 s.
    expect(took).toBeGreaterThanOrEqual(900);
    expect(took).toBeLessThan(5000);
    expect(doomed.output()).toContain('SIGTERM: shutting down');
    spare.destroy();
    await reader.cancel().catch(() => undefined);
  });
});
