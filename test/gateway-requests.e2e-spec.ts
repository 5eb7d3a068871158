import * as http from 'node:http';
import * as net from 'node:net';
import { GatewayProcess, RawAnswer, Upstream, eventually, rawRequest, rigGatewayEnv, startGateway, startGatewayRig } from './support/gateway-process';
import { ServiceProcess, api } from './support/service-process';

const KEYS = '/v2/gen-ai/models/api_keys';
const CHAT = { model: 'llama3-8b-instruct', messages: [{ role: 'user', content: 'hello' }] };

/** OpenAI's error shape, exactly: no other field at either level. */
function expectOpenAiError(answer: RawAnswer, status: number, fields: { type?: string; code?: string | null; param?: string | null; message?: RegExp }) {
  expect(answer.status).toBe(status);
  expect(answer.headers['content-type']).toMatch(/^application\/json/);
  const body = JSON.parse(answer.body.toString('utf8'));
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(body.error.message).toEqual(expect.any(String));
  const { message, ...rest } = fields;
  expect(body.error).toMatchObject(rest);
  if (message) expect(body.error.message).toMatch(message);
  expect(JSON.stringify(body)).not.toMatch(/FST_|statusCode/);
  return body.error;
}

/** Bad requests to the reference gateway are refused before verification and forwarding, in OpenAI's error shape. */
describe('the reference gateway refuses bad requests in OpenAI error shape', () => {
  let service: ServiceProcess;
  let upstream: Upstream;
  let gateway: GatewayProcess;
  let secret: string;
  let keyUuid: string;

  beforeAll(async () => {
    let owner: string;
    ({ service, upstream, gateways: [gateway], owner } = await startGatewayRig(1, { RATE_LIMIT_REDIS_URL: '' }));
    const created = await api(service.baseUrl, 'POST', KEYS, owner, { name: 'requests' });
    secret = created.body.api_key_info.secret_key;
    keyUuid = created.body.api_key_info.uuid;
  });
  afterAll(async () => {
    await gateway?.kill();
    await service?.kill();
    await upstream?.close();
  });

  const post = (body: string | Buffer | undefined, headers: Record<string, string> = { 'content-type': 'application/json' }, path = '/v1/chat/completions', token = secret) =>
    rawRequest(gateway.baseUrl, 'POST', path, { authorization: `Bearer ${token}`, ...headers }, body);
  /** Runs `act` and expects no call to have reached the upstream meanwhile. */
  const nothingForwarded = async <T>(act: () => Promise<T>): Promise<T> => {
    const before = upstream.calls.length;
    const result = await act();
    expect(upstream.calls.length).toBe(before);
    return result;
  };

  it.each([
    ['stream', { stream: 1 }, /stream must be a boolean/],
    ['stream', { stream: 'true' }, /stream must be a boolean/],
    ['stream', { stream: null }, /stream must be a boolean/],
    ['stream_options', { stream: true, stream_options: 'yes' }, /stream_options must be an object or null/],
    ['stream_options', { stream: true, stream_options: [] }, /stream_options must be an object or null/],
    ['stream_options', { stream_options: true }, /stream_options must be an object or null/],
  ])('refuses %s of the wrong type (%j) with 400 naming the param, before verifying the key or forwarding', async (param, extra, message) => {
    for (const token of [secret, 'mak_not-a-key']) {
      const answer = await nothingForwarded(() => post(JSON.stringify({ ...CHAT, ...extra }), undefined, undefined, token));
      expectOpenAiError(answer, 400, { type: 'invalid_request_error', param, code: 'invalid_type', message });
    }
  });

  it('takes stream as a boolean and stream_options as an object or null', async () => {
    for (const extra of [{ stream: false }, { stream: false, stream_options: null }, { stream: true, stream_options: null }, { stream: true, stream_options: { include_usage: false } }]) {
      const answer = await post(JSON.stringify({ ...CHAT, ...extra }));
      expect(answer.status).toBe(200);
    }
    expect(upstream.calls.at(-1)!.body.stream_options).toEqual({ include_usage: true });
  });

  it('a body that is not JSON is 400 invalid_json', async () => {
    const answer = await nothingForwarded(() => post('{"model": '));
    expectOpenAiError(answer, 400, { type: 'invalid_request_error', code: 'invalid_json', param: 'body', message: /not valid JSON/ });
  });

  it.each([['[1, 2]'], ['"hello"'], ['42'], ['null'], ['']])('a JSON body that is not an object (%j) is 400', async (body) => {
    const answer = await nothingForwarded(() => post(body));
    expectOpenAiError(answer, 400, { type: 'invalid_request_error', param: 'body', message: /must be a JSON object/ });
  });

  it('a POST without a body is 400, a body without Content-Type 415', async () => {
    expectOpenAiError(await nothingForwarded(() => post(undefined, {})), 400, { type: 'invalid_request_error', param: 'body', message: /must be a JSON object/ });
    expectOpenAiError(await nothingForwarded(() => post(JSON.stringify(CHAT), {})), 415, { type: 'invalid_request_error', code: 'unsupported_media_type' });
  });

  it('a text/plain body (or any type but JSON) is 415 and never forwarded', async () => {
    for (const type of ['text/plain', 'text/plain; charset=utf-8', 'application/x-www-form-urlencoded', 'application/octet-stream']) {
      const answer = await nothingForwarded(() => post('hello', { 'content-type': type }));
      expectOpenAiError(answer, 415, { type: 'invalid_request_error', code: 'unsupported_media_type', message: /application\/json/ });
    }
  });

  it('a body with __proto__ (prototype poisoning) is 400 saying so', async () => {
    for (const body of ['{"model": "m", "__proto__": {"admin": true}}', '{"model": "m", "constructor": {"prototype": {"admin": true}}}']) {
      const answer = await nothingForwarded(() => post(body));
      expectOpenAiError(answer, 400, { type: 'invalid_request_error', param: 'body', message: /prototype poisoning/ });
    }
  });

  it('a body over the 10 MiB limit is 413', async () => {
    // Its Content-Length is over the limit: the gateway answers at once. Only the first 64 KiB are sent
    // and the answer read before more: writing all of it races the gateway closing the connection (EPIPE).
    const declared = 10 * 1024 * 1024 + 100;
    const answer = await nothingForwarded(
      () =>
        new Promise<RawAnswer>((resolve, reject) => {
          const request = http.request(`${gateway.baseUrl}/v1/chat/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'content-length': declared, authorization: `Bearer ${secret}` },
          });
          request.on('response', (response) => {
            const pieces: Buffer[] = [];
            response.on('data', (piece: Buffer) => pieces.push(piece));
            response.on('end', () => {
              resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(pieces) });
              request.destroy();
            });
          });
          request.on('error', (error: NodeJS.ErrnoException) => {
            if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') reject(error);
          });
          request.write(Buffer.alloc(64 * 1024, 0x20));
        }),
    );
    expectOpenAiError(answer, 413, { type: 'invalid_request_error', code: 'request_too_large', message: /larger than 10485760 bytes/ });
  });

  it('an unknown path, or a method a route does not take, is 404 unknown_url (without the query)', async () => {
    const unknown = await post(JSON.stringify(CHAT), undefined, '/v1/nope?token=abc');
    expect(expectOpenAiError(unknown, 404, { type: 'invalid_request_error', code: 'unknown_url', param: null }).message).toBe('Invalid URL (POST /v1/nope)');
    const get = await rawRequest(gateway.baseUrl, 'GET', '/v1/chat/completions', {});
    expect(expectOpenAiError(get, 404, { code: 'unknown_url' }).message).toBe('Invalid URL (GET /v1/chat/completions)');
  });

  it('a path that is not valid percent-encoding, and what is not HTTP at all, are answered in OpenAI shape too', async () => {
    const badPath = await post(JSON.stringify(CHAT), undefined, '/v1/%ff');
    expectOpenAiError(badPath, 400, { type: 'invalid_request_error', code: 'invalid_url' });
    const port = Number(new URL(gateway.baseUrl).port);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.end('GARBAGE\r\n\r\n'));
      let text = '';
      socket.on('data', (piece) => (text += piece.toString()));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4))).toEqual({ error: { message: 'the request is not valid HTTP', type: 'invalid_request_error', param: null, code: 'invalid_request' } });
  });

  it("the gateway's own refusals carry param too: a missing key is 401", async () => {
    const answer = await post(JSON.stringify(CHAT), { 'content-type': 'application/json', authorization: '' });
    expectOpenAiError(answer, 401, { type: 'missing_api_key', code: 'missing_api_key', param: null });
  });

  /** The gateway's request lines (JSON) so far. */
  const requestLines = () =>
    gateway
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line))
      .filter((line) => line.method !== undefined && line.status !== undefined);

  it("a request's line carries the caller's X-Request-Id and the verified key's uuid, never its secret", async () => {
    const answer = await post(JSON.stringify(CHAT), { 'content-type': 'application/json', 'x-request-id': 'gw-req-200' });
    expect(answer.status).toBe(200);
    await eventually(async () => requestLines().some((line) => line.request_id === 'gw-req-200'), 2000, 'the line of the call');
    expect(requestLines().filter((line) => line.request_id === 'gw-req-200')).toEqual([
      expect.objectContaining({ route: '/v1/chat/completions', status: 200, key_uuid: keyUuid }),
    ]);
    // A secret-like request id is not taken (nor logged): a new one is made.
    await post(JSON.stringify(CHAT), { 'content-type': 'application/json', 'x-request-id': secret });
    expect(gateway.output()).not.toContain(secret);
  });

  it('a streamed call whose client leaves early still writes its one line, with status 499', async () => {
    // node:http rather than fetch: an aborted fetch opens a spare connection that would hold the gateway's shutdown.
    const status = await new Promise<number>((resolve, reject) => {
      const request = http.request(`${gateway.baseUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}`, 'x-request-id': 'gw-req-left' },
      });
      request.on('response', (response) => response.once('data', () => (request.destroy(), resolve(response.statusCode ?? 0)))); // the first event, then the client goes
      request.on('error', (error) => (request.destroyed ? undefined : reject(error)));
      request.end(JSON.stringify({ ...CHAT, stream: true }));
    });
    expect(status).toBe(200);
    await eventually(async () => requestLines().some((line) => line.request_id === 'gw-req-left'), 3000, 'the line of the call the client left');
    await new Promise((resolve) => setTimeout(resolve, 2500)); // the upstream answer read to its end: still one line
    expect(requestLines().filter((line) => line.request_id === 'gw-req-left')).toEqual([
      expect.objectContaining({ level: 'info', route: '/v1/chat/completions', status: 499, key_uuid: keyUuid }),
    ]);
  });

  it('UPSTREAM_URL with a base path: calls are forwarded under it', async () => {
    const based = await startGateway(rigGatewayEnv(service, upstream, { RATE_LIMIT_REDIS_URL: '', UPSTREAM_URL: `${upstream.url}/openai/` }));
    try {
      const answer = await rawRequest(based.baseUrl, 'POST', '/v1/chat/completions', { 'content-type': 'application/json', authorization: `Bearer ${secret}` }, JSON.stringify(CHAT));
      expect(answer.status).toBe(200);
      expect(upstream.calls.at(-1)).toMatchObject({ path: '/openai/v1/chat/completions', keyUuid });
      expect(based.output()).toContain(`forwarding to ${upstream.url}/openai,`);
    } finally {
      await based.kill();
    }
  });
});
