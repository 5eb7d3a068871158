import { MAX_USAGE_COUNT } from '@lib/gateway-client';
import { EventSourceParser, createParser } from 'eventsource-parser';
import { Readable, Transform, TransformCallback, pipeline } from 'node:stream';
import * as zlib from 'node:zlib';

/** The tokens one upstream answer used, as OpenAI's `usage` reports them: whole tokens, 0 when not reported. */
export interface TokenUsage {
  readonly promptTokens: number;
  readonly completionTokens: number;
}

/**
 * The OpenAI-style `usage` (`{prompt_tokens, completion_tokens}`) of a parsed answer or stream chunk;
 * null when it has none (no `usage`, or `usage: null` as on every chunk of a stream but the last).
 * A count that is not a positive finite number is 0, a fractional one is rounded down, and one over
 * MAX_USAGE_COUNT (10^12, the most the key service takes in a usage record) is that: an upstream's odd
 * value never charges a negative, fractional or unreportable amount.
 */
export function usageIn(parsed: unknown): TokenUsage | null {
  const usage = (parsed as { usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } } | null)?.usage;
  if (!usage || typeof usage !== 'object') return null;
  return { promptTokens: tokenCount(usage.prompt_tokens), completionTokens: tokenCount(usage.completion_tokens) };
}

function tokenCount(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.min(MAX_USAGE_COUNT, Math.floor(value)) : 0;
}

/** The `usage` of a JSON answer (its bytes, UTF-8); null when it is not JSON or has none. */
export function usageOf(body: Buffer): TokenUsage | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return null;
  }
  return usageIn(parsed);
}

/**
 * The content codings (RFC 9110, 8.4.1) the gateway can undo, with node's zlib: `gzip` (and its old
 * name `x-gzip`), `deflate` (the zlib format, as RFC 9110 defines it) and `br`.
 */
const DECODERS: Readonly<Record<string, () => Transform>> = {
  gzip: () => zlib.createGunzip(),
  'x-gzip': () => zlib.createGunzip(),
  deflate: () => zlib.createInflate(),
  br: () => zlib.createBrotliDecompress(),
};

/**
 * How to undo an answer's `Content-Encoding` (a header value, e.g. `gzip` or `deflate, br`): one
 * decoder maker per coding, in the order to apply them (the coding applied last, listed last, is
 * undone first). [] when the answer is not encoded (no header, or `identity`); null when a coding is
 * one the gateway cannot decode (the answer then goes on as it came, unread).
 */
export function decodersFor(contentEncoding: string | string[] | undefined): Array<() => Transform> | null {
  if (contentEncoding === undefined) return [];
  const codings = (Array.isArray(contentEncoding) ? contentEncoding.join(',') : contentEncoding)
    .split(',')
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== '' && coding !== 'identity');
  const decoders: Array<() => Transform> = [];
  for (const coding of codings.reverse()) {
    const decoder = Object.hasOwn(DECODERS, coding) ? DECODERS[coding] : undefined;
    if (decoder === undefined) return null;
    decoders.push(decoder);
  }
  return decoders;
}

/**
 * `body` decoded by `decoders` (decodersFor), as a stream of the decoded bytes; `body` itself when
 * there are none. A body that fails to decode (or fails upstream) errors the returned stream.
 */
export function decoded(body: Readable, decoders: ReadonlyArray<() => Transform>): Readable {
  if (decoders.length === 0) return body;
  const streams = decoders.map((make) => make());
  // pipeline destroys every stream on a failure, the last one with the error, which its reader sees.
  return pipeline([body, ...streams], () => undefined) as unknown as Readable;
}

/**
 * The body to send upstream for a call whose tokens are counted: a streamed call (`"stream": true`)
 * gets `stream_options.include_usage: true`, the client's other stream_options kept, so that an
 * OpenAI-style upstream ends the stream with a usage chunk. It is set even when the client asked
 * `include_usage: false`: without it the tokens could not be charged, and a key could dodge its token
 * limit and quota by streaming. `stream_options` that are not an object are replaced (the gateway
 * refuses such a body before it gets here: requestBodyProblem). Any other body goes as it came.
 */
export function withStreamUsage(body: unknown): unknown {
  if (!body || typeof body !== 'object' || Array.isArray(body) || (body as { stream?: unknown }).stream !== true) return body;
  const options = (body as { stream_options?: unknown }).stream_options;
  const kept = options && typeof options === 'object' && !Array.isArray(options) ? options : {};
  return { ...body, stream_options: { ...kept, include_usage: true } };
}

/**
 * The most characters the parser holds for one unfinished event. An OpenAI chunk is a few hundred
 * bytes; an upstream whose event runs past this is no longer read for usage (its bytes still pass).
 */
const MAX_EVENT_CHARS = 1024 * 1024;

/**
 * Reads an OpenAI-style Server-Sent Events answer (`data: {chat.completion.chunk}` events, then
 * `data: [DONE]`) for its token usage: the last `usage` object in any event's JSON data. OpenAI sends
 * one, in a final chunk with `choices: []`, when the request had `stream_options.include_usage`; an
 * upstream that sends a running total on every chunk is read right too. `[DONE]`, data that is not
 * JSON and events without usage are skipped. Bytes may be fed cut anywhere, inside a UTF-8 character
 * or a line; parsing (line endings, multi-line data, comments) is eventsource-parser's, as the WHATWG
 * spec reads a stream, so an event not closed by a blank line before the end is not counted.
 */
export class StreamUsage {
  private readonly decoder = new TextDecoder('utf-8');
  private readonly parser: EventSourceParser;
  private last: TokenUsage | null = null;
  private overflowed = false;

  constructor() {
    this.parser = createParser({
      maxBufferSize: MAX_EVENT_CHARS,
      onEvent: (event) => this.read(event.data),
      onError: (error) => {
        if (error.type === 'max-buffer-size-exceeded') this.overflowed = true;
      },
    });
  }

  /** Reads the next bytes of the answer, cut anywhere. */
  feed(bytes: Uint8Array): void {
    if (!this.overflowed) this.parser.feed(this.decoder.decode(bytes, { stream: true }));
  }

  /** The last usage read so far; null when none was. */
  get usage(): TokenUsage | null {
    return this.last;
  }

  private read(data: string): void {
    if (data === '[DONE]') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      return;
    }
    this.last = usageIn(parsed) ?? this.last;
  }
}

/**
 * An upstream SSE answer on its way to the client: each piece goes on unchanged as it arrives
 * (nothing is held back, and the client's pace holds the upstream back), and is read for usage
 * (StreamUsage). When the upstream has ended, `charge(usage)` is awaited before the end is passed on,
 * so that a client that calls again once it has read the whole answer finds the tokens charged.
 *
 * A client that leaves before the end does not end the count: the rest of the upstream answer is read
 * (and dropped) to its end, and its usage charged then. OpenAI reports usage in the last chunk only, so
 * a client could otherwise read an answer, leave before that chunk and never be charged. The upstream's
 * silence is bounded by undici's bodyTimeout (300 s between pieces). An upstream that fails mid-answer
 * charges the usage read so far, if any, and errors the stream (`onUpstreamError` is told).
 * `charge` is called at most once and only with a usage; it should not reject.
 */
export function meteredStream(upstream: Readable, charge: (usage: TokenUsage) => Promise<void>, onUpstreamError: (error: Error) => void): Readable {
  const reader = new StreamUsage();
  let charged = false;
  let ended = false;
  const chargeOnce = (): Promise<void> => {
    const usage = reader.usage;
    if (charged || usage === null) return Promise.resolve();
    charged = true;
    return charge(usage);
  };
  const out = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
      reader.feed(chunk);
      done(null, chunk);
    },
    flush(done: TransformCallback) {
      ended = true;
      chargeOnce().then(() => done(), done);
    },
  });
  upstream.once('error', (error: Error) => {
    chargeOnce().catch(() => undefined);
    onUpstreamError(error);
    out.destroy(error);
  });
  out.once('close', () => {
    if (ended) return;
    // The client left (or the upstream failed) before the end: what is left upstream is read for its usage.
    upstream.unpipe(out);
    if (upstream.destroyed || upstream.readableEnded) return void chargeOnce().catch(() => undefined);
    upstream.on('data', (chunk: Buffer) => reader.feed(chunk));
    upstream.once('end', () => void chargeOnce().catch(() => undefined));
    upstream.resume();
  });
  upstream.pipe(out);
  return out;
}
