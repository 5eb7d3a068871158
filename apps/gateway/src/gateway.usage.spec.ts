import { once } from 'node:events';
import { PassThrough, Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import * as zlib from 'node:zlib';
import { StreamUsage, TokenUsage, decoded, decodersFor, meteredStream, usageIn, usageOf, withStreamUsage } from './gateway.usage';

/** An OpenAI chat completion stream with `stream_options.include_usage`, as its bytes. */
const chunk = (body: object) => `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', model: 'm', ...body })}\n\n`;
const OPENAI_STREAM = Buffer.from(
  chunk({ choices: [{ index: 0, delta: { role: 'assistant', content: '' } }], usage: null }) +
    chunk({ choices: [{ index: 0, delta: { content: 'Grüße, ' } }], usage: null }) +
    chunk({ choices: [{ index: 0, delta: { content: 'мир 🌍' } }], usage: null }) +
    chunk({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: null }) +
    chunk({ choices: [], usage: { prompt_tokens: 7, completion_tokens: 25, total_tokens: 32 } }) +
    'data: [DONE]\n\n',
);

function read(...pieces: Array<string | Buffer>): TokenUsage | null {
  const reader = new StreamUsage();
  for (const piece of pieces) reader.feed(typeof piece === 'string' ? Buffer.from(piece) : piece);
  return reader.usage;
}

describe('StreamUsage: the usage of an OpenAI-style SSE answer', () => {
  it('finds the final usage chunk of an OpenAI stream', () => {
    expect(read(OPENAI_STREAM)).toEqual({ promptTokens: 7, completionTokens: 25 });
  });

  it('finds it whatever byte the stream is cut at, in two pieces or byte by byte', () => {
    for (let cut = 0; cut <= OPENAI_STREAM.length; cut++) {
      expect(read(OPENAI_STREAM.subarray(0, cut), OPENAI_STREAM.subarray(cut))).toEqual({ promptTokens: 7, completionTokens: 25 });
    }
    const reader = new StreamUsage();
    for (let i = 0; i < OPENAI_STREAM.length; i++) reader.feed(OPENAI_STREAM.subarray(i, i + 1));
    expect(reader.usage).toEqual({ promptTokens: 7, completionTokens: 25 });
  });

  it('has no usage before the usage event is complete (closed by its blank line)', () => {
    const end = OPENAI_STREAM.indexOf('data: [DONE]');
    expect(read(OPENAI_STREAM.subarray(0, end - 1))).toBeNull();
    expect(read(OPENAI_STREAM.subarray(0, end))).toEqual({ promptTokens: 7, completionTokens: 25 });
  });

  it('reads data spread over several data: lines, CRLF line endings and comments', () => {
    expect(read('data: {"usage":\ndata: {"prompt_tokens": 3,\ndata: "completion_tokens": 4}}\n\n')).toEqual({ promptTokens: 3, completionTokens: 4 });
    expect(read(': keep-alive\r\n\r\nevent: message\r\ndata: {"usage": {"prompt_tokens": 5, "completion_tokens": 6}}\r\n\r\n')).toEqual({
      promptTokens: 5,
      completionTokens: 6,
    });
  });

  it('takes the last usage: a running total on every chunk ends at the full count; usage: null does not erase it', () => {
    expect(
      read(
        chunk({ choices: [], usage: { prompt_tokens: 9, completion_tokens: 1 } }),
        chunk({ choices: [], usage: { prompt_tokens: 9, completion_tokens: 2 } }),
        chunk({ choices: [], usage: null }),
        'data: [DONE]\n\n',
      ),
    ).toEqual({ promptTokens: 9, completionTokens: 2 });
  });

  it('has none for a stream without usage (an upstream that ignores include_usage), or only [DONE]', () => {
    const withoutUsage = OPENAI_STREAM.toString().replace(/data: \{[^\n]*"choices":\[\],[^\n]*\n\n/, '');
    expect(withoutUsage).not.toContain('total_tokens');
    expect(read(withoutUsage)).toBeNull();
    expect(read('data: [DONE]\n\n')).toBeNull();
    expect(read('')).toBeNull();
  });

  it('skips data that is not JSON or not an object with usage, and keeps reading after it', () => {
    expect(read('data: not json\n\ndata: {"usage": \n\ndata: null\n\ndata: 42\n\ndata: {"usage": "lots"}\n\nretry: soon\n\nbogus\n\n')).toBeNull();
    expect(read('data: {oops\n\ndata: {"usage": {"prompt_tokens": 2, "completion_tokens": 3}}\n\ndata: garbage\n\n')).toEqual({ promptTokens: 2, completionTokens: 3 });
  });

  it('counts a negative, fractional, non-finite or non-number count as what can be charged: 0, or rounded down', () => {
    expect(read('data: {"usage": {"prompt_tokens": -5, "completion_tokens": 1.7}}\n\n')).toEqual({ promptTokens: 0, completionTokens: 1 });
    expect(read('data: {"usage": {"prompt_tokens": "10", "completion_tokens": 1e400}}\n\n')).toEqual({ promptTokens: 0, completionTokens: 0 });
  });

  it('stops reading, without throwing, an event that grows past 1 MiB', () => {
    const reader = new StreamUsage();
    reader.feed(Buffer.from('data: {"usage": {"prompt_tokens": 1, "completion_tokens": 1}}\n\n'));
    reader.feed(Buffer.from(`data: "${'x'.repeat(1024 * 1024)}`));
    reader.feed(Buffer.from('"\n\ndata: {"usage": {"prompt_tokens": 2, "completion_tokens": 2}}\n\n'));
    expect(reader.usage).toEqual({ promptTokens: 1, completionTokens: 1 });
  });
});

describe('usageIn and usageOf: the usage of a JSON answer', () => {
  it('reads prompt_tokens and completion_tokens with the same rules as a stream chunk', () => {
    expect(usageOf(Buffer.from('{"usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}'))).toEqual({ promptTokens: 10, completionTokens: 5 });
    expect(usageOf(Buffer.from('{"usage": {"prompt_tokens": 2.9, "completion_tokens": -1}}'))).toEqual({ promptTokens: 2, completionTokens: 0 });
    expect(usageIn({ usage: { prompt_tokens: Infinity } })).toEqual({ promptTokens: 0, completionTokens: 0 });
  });

  it('holds a count to 10^12, the most the key service takes in a usage record', () => {
    expect(usageOf(Buffer.from('{"usage": {"prompt_tokens": 2e12, "completion_tokens": 1000000000000}}'))).toEqual({ promptTokens: 1e12, completionTokens: 1e12 });
    expect(read('data: {"usage": {"prompt_tokens": 9007199254740993, "completion_tokens": 5}}\n\n')).toEqual({ promptTokens: 1e12, completionTokens: 5 });
  });

  it('is null without usage or for a body that is not JSON', () => {
    expect(usageOf(Buffer.from('{"choices": []}'))).toBeNull();
    expect(usageOf(Buffer.from('{"usage": null}'))).toBeNull();
    expect(usageOf(Buffer.from('null'))).toBeNull();
    expect(usageOf(Buffer.from('<html>'))).toBeNull();
  });
});

describe('meteredStream: an upstream SSE answer on its way to the client', () => {
  const metered = (charge: (usage: TokenUsage) => Promise<void>, upstreamErrors: Error[] = []) => {
    const upstream = new PassThrough();
    return { upstream, out: meteredStream(upstream, charge, (error) => upstreamErrors.push(error)) };
  };

  it('passes every piece on unchanged as it arrives, before the answer has ended', async () => {
    const charged: TokenUsage[] = [];
    const { upstream, out } = metered(async (usage) => void charged.push(usage));
    const first = OPENAI_STREAM.subarray(0, 40);
    upstream.write(first);
    const [piece] = (await once(out, 'data')) as [Buffer];
    expect(piece.equals(first)).toBe(true);
    expect(charged).toEqual([]);
    const received: Buffer[] = [piece];
    out.on('data', (more: Buffer) => received.push(more));
    upstream.end(OPENAI_STREAM.subarray(40));
    await once(out, 'end');
    expect(Buffer.concat(received).equals(OPENAI_STREAM)).toBe(true);
    expect(charged).toEqual([{ promptTokens: 7, completionTokens: 25 }]);
  });

  it('ends only once the charge has completed', async () => {
    const order: string[] = [];
    const { upstream, out } = metered(async () => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      order.push('charged');
    });
    out.on('data', () => undefined);
    out.on('end', () => order.push('end'));
    upstream.end(OPENAI_STREAM);
    await once(out, 'close');
    expect(order).toEqual(['charged', 'end']);
  });

  it('charges nothing for an answer without usage', async () => {
    const charged: TokenUsage[] = [];
    const { upstream, out } = metered(async (usage) => void charged.push(usage));
    out.resume();
    upstream.end(Buffer.from(chunk({ choices: [{ index: 0, delta: { content: 'hi' } }] }) + 'data: [DONE]\n\n'));
    await once(out, 'end');
    expect(charged).toEqual([]);
  });

  it('a client that leaves mid-answer is still charged: the upstream is read on to its end, once', async () => {
    const charged: TokenUsage[] = [];
    const { upstream, out } = metered(async (usage) => void charged.push(usage));
    out.resume();
    upstream.write(OPENAI_STREAM.subarray(0, 60));
    await new Promise((resolve) => setImmediate(resolve));
    out.destroy(); // the client went away
    await once(out, 'close');
    expect(upstream.destroyed).toBe(false);
    expect(charged).toEqual([]);
    // The usage chunk comes after the client left, cut in two.
    upstream.write(OPENAI_STREAM.subarray(60, 200));
    upstream.end(OPENAI_STREAM.subarray(200));
    await once(upstream, 'end');
    await new Promise((resolve) => setImmediate(resolve));
    expect(charged).toEqual([{ promptTokens: 7, completionTokens: 25 }]);
  });

  it('an upstream that fails mid-answer: the usage read so far is charged, the stream errors, and the failure is told', async () => {
    const charged: TokenUsage[] = [];
    const errors: Error[] = [];
    const { upstream, out } = metered(async (usage) => void charged.push(usage), errors);
    out.resume();
    upstream.write(Buffer.from(chunk({ choices: [], usage: { prompt_tokens: 4, completion_tokens: 8 } })));
    await new Promise((resolve) => setImmediate(resolve));
    upstream.destroy(new Error('upstream reset'));
    const [error] = (await once(out, 'error')) as [Error];
    expect(error.message).toBe('upstream reset');
    expect(errors.map((e) => e.message)).toEqual(['upstream reset']);
    expect(charged).toEqual([{ promptTokens: 4, completionTokens: 8 }]);
  });

  it('a failed charge at the end errors the stream (the gateway catches and logs its own)', async () => {
    const { upstream, out } = metered(async () => {
      throw new Error('limiter down');
    });
    out.resume();
    upstream.end(OPENAI_STREAM);
    const [error] = (await once(out, 'error')) as [Error];
    expect(error.message).toBe('limiter down');
  });
});

describe('withStreamUsage: the body sent upstream when tokens are counted', () => {
  it('asks a streamed call for its usage', () => {
    expect(withStreamUsage({ model: 'm', stream: true })).toEqual({ model: 'm', stream: true, stream_options: { include_usage: true } });
  });

  it("keeps the client's other stream_options, and sets include_usage over the client's false", () => {
    expect(withStreamUsage({ stream: true, stream_options: { include_obfuscation: false, include_usage: false } })).toEqual({
      stream: true,
      stream_options: { include_obfuscation: false, include_usage: true },
    });
  });

  it('replaces stream_options that are not an object', () => {
    expect(withStreamUsage({ stream: true, stream_options: 'yes' })).toEqual({ stream: true, stream_options: { include_usage: true } });
    expect(withStreamUsage({ stream: true, stream_options: null })).toEqual({ stream: true, stream_options: { include_usage: true } });
  });

  it('leaves a call that is not streamed as it came', () => {
    for (const body of [{ model: 'm' }, { stream: false }, { stream: 'true' }, [{ stream: true }], null, undefined, 'text']) {
      expect(withStreamUsage(body)).toBe(body);
    }
  });
});

describe('decodersFor and decoded: a compressed upstream answer, read decoded', () => {
  const decode = (encoding: string, bytes: Buffer) => buffer(decoded(Readable.from([bytes]), decodersFor(encoding)!));

  it('undoes gzip (and x-gzip), deflate and br, whatever the case of the name', async () => {
    expect((await decode('gzip', zlib.gzipSync(OPENAI_STREAM))).equals(OPENAI_STREAM)).toBe(true);
    expect((await decode('X-Gzip', zlib.gzipSync(OPENAI_STREAM))).equals(OPENAI_STREAM)).toBe(true);
    expect((await decode('deflate', zlib.deflateSync(OPENAI_STREAM))).equals(OPENAI_STREAM)).toBe(true);
    expect((await decode('BR', zlib.brotliCompressSync(OPENAI_STREAM))).equals(OPENAI_STREAM)).toBe(true);
  });

  it('undoes several codings, the last listed first', async () => {
    const twice = zlib.brotliCompressSync(zlib.deflateSync(OPENAI_STREAM)); // deflate, then br
    expect((await decode('deflate, br', twice)).equals(OPENAI_STREAM)).toBe(true);
  });

  it('reads a gzip stream fed in pieces for its usage', async () => {
    const compressed = zlib.gzipSync(OPENAI_STREAM);
    const pieces = Array.from({ length: Math.ceil(compressed.length / 7) }, (_, i) => compressed.subarray(i * 7, i * 7 + 7));
    const charged: TokenUsage[] = [];
    const out = meteredStream(decoded(Readable.from(pieces), decodersFor('gzip')!), async (usage) => void charged.push(usage), () => undefined);
    expect((await buffer(out)).equals(OPENAI_STREAM)).toBe(true);
    expect(charged).toEqual([{ promptTokens: 7, completionTokens: 25 }]);
  });

  it('has nothing to undo without an encoding, or identity', () => {
    expect(decodersFor(undefined)).toEqual([]);
    expect(decodersFor('identity')).toEqual([]);
    const body = Readable.from([OPENAI_STREAM]);
    expect(decoded(body, [])).toBe(body);
  });

  it('is null for a coding it cannot decode, alone or among others', () => {
    for (const encoding of ['zstd', 'compress', 'gzip, zstd', 'x-unknown', 'toString', '__proto__']) expect(decodersFor(encoding)).toBeNull();
  });

  it('a body that is not what its encoding says errors the stream', async () => {
    await expect(decode('gzip', OPENAI_STREAM)).rejects.toThrow(/header/);
  });
});
