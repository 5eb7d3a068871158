import { PrototypePoisoningError, errorToAnswer, notFoundAnswer, parseJsonBody, requestBodyProblem } from './gateway.errors';

const LIMIT = 10 * 1024 * 1024;

describe('requestBodyProblem: what the gateway refuses before verifying a key', () => {
  it('takes a JSON object, stream as a boolean, stream_options as an object or null', () => {
    for (const body of [{}, { model: 'm' }, { stream: true }, { stream: false }, { stream: true, stream_options: null }, { stream: true, stream_options: { include_usage: false } }]) {
      expect(requestBodyProblem(body)).toBeNull();
    }
  });

  it.each([1, 0, 'true', 'false', null, {}, []])('refuses stream: %j with 400 in OpenAI shape, param stream', (stream) => {
    expect(requestBodyProblem({ model: 'm', stream })).toEqual({
      status: 400,
      body: { error: { message: expect.stringContaining('stream must be a boolean'), type: 'invalid_request_error', param: 'stream', code: 'invalid_type' } },
    });
  });

  it.each(['yes', true, 1, [], [{ include_usage: true }]])('refuses stream_options: %j, param stream_options', (options) => {
    expect(requestBodyProblem({ stream: true, stream_options: options })?.body.error).toMatchObject({
      message: expect.stringContaining('stream_options must be an object or null'),
      param: 'stream_options',
      code: 'invalid_type',
    });
  });

  it.each([undefined, null, 'hello', 42, true, [{ model: 'm' }]])('refuses a body that is not a JSON object: %j', (body) => {
    expect(requestBodyProblem(body)).toMatchObject({ status: 400, body: { error: { type: 'invalid_request_error', param: 'body', message: expect.stringContaining('must be a JSON object') } } });
  });
});

describe('parseJsonBody: the JSON body parser', () => {
  it('parses a JSON body; an empty one is undefined', () => {
    expect(parseJsonBody(Buffer.from('{"model": "m", "stream": true}'))).toEqual({ model: 'm', stream: true });
    expect(parseJsonBody(Buffer.from('[1]'))).toEqual([1]);
    expect(parseJsonBody(Buffer.alloc(0))).toBeUndefined();
  });

  it('throws PrototypePoisoningError for __proto__ or constructor.prototype, a SyntaxError for malformed JSON', () => {
    expect(() => parseJsonBody(Buffer.from('{"a": {"__proto__": {"x": 1}}}'))).toThrow(PrototypePoisoningError);
    expect(() => parseJsonBody(Buffer.from('{"constructor": {"prototype": {"x": 1}}}'))).toThrow(PrototypePoisoningError);
    expect(() => parseJsonBody(Buffer.from('{"model": '))).toThrow(SyntaxError);
    expect(() => parseJsonBody(Buffer.from('{"model": '))).not.toThrow(PrototypePoisoningError);
  });

  it('takes an ordinary property named constructor', () => {
    expect(parseJsonBody(Buffer.from('{"constructor": "a name"}'))).toEqual({ constructor: 'a name' });
  });
});

describe('errorToAnswer: errors raised outside the routes, in OpenAI shape', () => {
  const answer = (error: object) => errorToAnswer(error, LIMIT);

  it('maps the body parser and body limit errors to 4xx naming the body', () => {
    expect(answer({ code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 })).toMatchObject({ status: 415, body: { error: { code: 'unsupported_media_type', param: 'content-type' } } });
    expect(answer({ code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 })).toMatchObject({
      status: 413,
      body: { error: { code: 'request_too_large', message: 'the request body is larger than 10485760 bytes' } },
    });
    expect(answer(new SyntaxError('Unexpected end of JSON input'))).toMatchObject({ status: 400, body: { error: { code: 'invalid_json', param: 'body' } } });
    expect(answer(new PrototypePoisoningError('Object contains forbidden prototype property'))).toMatchObject({
      status: 400,
      body: { error: { message: expect.stringContaining('prototype poisoning'), param: 'body' } },
    });
    expect(answer({ code: 'FST_ERR_CTP_EMPTY_JSON_BODY', statusCode: 400 }).status).toBe(400);
    expect(answer({ code: 'FST_ERR_CTP_INVALID_CONTENT_LENGTH', statusCode: 400 }).status).toBe(400);
  });

  it("passes another of Fastify's 4xx on with its status and message, in OpenAI shape", () => {
    expect(answer({ code: 'FST_ERR_BAD_URL', statusCode: 400, message: "'/%xx' is not a valid url component" })).toEqual({
      status: 400,
      body: { error: { message: "'/%xx' is not a valid url component", type: 'invalid_request_error', param: null, code: null } },
    });
  });

  it('answers anything else 500 with a generic message: no internals', () => {
    for (const error of [new Error('ECONNREFUSED 10.0.0.7:6379 at /srv/app/x.js'), new TypeError('x is undefined'), { statusCode: 503, message: 'inner detail' }, { statusCode: 400, message: 'not fastify' }]) {
      expect(answer(error)).toEqual({ status: 500, body: { error: { message: 'the gateway failed to handle the request', type: 'server_error', param: null, code: 'internal_error' } } });
    }
  });
});

describe('notFoundAnswer', () => {
  it("is OpenAI's 404 unknown_url, without the query string", () => {
    expect(notFoundAnswer('GET', '/v1/models?secret=1')).toEqual({
      status: 404,
      body: { error: { message: 'Invalid URL (GET /v1/models)', type: 'invalid_request_error', param: null, code: 'unknown_url' } },
    });
  });
});
