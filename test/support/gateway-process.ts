import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { ROOT, ServiceProcess, freePort, spawnUntilHealthy, startService } from './service-process';

export const GATEWAY_MAIN = path.join(ROOT, 'dist/apps/gateway/src/main.js');

export interface GatewayProcess {
  readonly baseUrl: string;
  readonly stateDir: string;
  readonly env: NodeJS.ProcessEnv;
  output(): string;
  chat(secret: string | null, model?: string): Promise<{ status: number; body: any; headers: Headers }>;
  status(): Promise<any>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** The reference gateway (apps/gateway) as its own process. */
export async function startGateway(env: NodeJS.ProcessEnv, stateDir?: string): Promise<GatewayProcess> {
  const dir = stateDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'gateway-e2e-'));
  const port = await freePort();
  const fullEnv = { ...process.env, GATEWAY_HOST: '127.0.0.1', GATEWAY_PORT: String(port), GATEWAY_STATE_DIR: dir, ...env };
  const baseUrl = `http://127.0.0.1:${port}`;
  const { child, output } = await spawnUntilHealthy('gateway', GATEWAY_MAIN, fullEnv, baseUrl);
  return {
    baseUrl,
    stateDir: dir,
    env: fullEnv,
    output,
    async chat(secret, model = 'llama3-8b-instruct') {
      const response = await fetch(`${baseUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(secret ? { authorization: `Bearer ${secret}` } : {}) },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hello' }] }),
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
    },
    async status() {
      return (await fetch(`${baseUrl}/gateway/status`)).json();
    },
    kill: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill(signal);
      }),
  };
}

export interface Upstream {
  readonly url: string;
  readonly calls: Array<{ path: string; keyUuid: string | undefined; authorization: string | undefined; acceptEncoding: string | undefined; body: any }>;
  /** The streamed answers: when each was written to its end (Date.now()), or that the gateway cancelled it first. */
  readonly streams: Array<{ endedAt: number | null; cancelled: boolean }>;
  close(): Promise<void>;
}

/** How long the upstream waits between the events of a streamed answer, ms. */
export const STREAM_EVENT_GAP_MS = 300;

export interface UpstreamOptions {
  /**
   * `gzip`: every answer (JSON and SSE) is gzip-compressed with `content-encoding: gzip`, whatever the
   * call's Accept-Encoding, as a compressing upstream or a proxy in front of it may do; the stream is
   * flushed after each event, so that it still arrives event by event. `x-unknown`: the body is sent
   * as is, labelled with an encoding no one can decode.
   */
  readonly encoding?: 'gzip' | 'x-unknown';
}

/**
 * A small OpenAI-style upstream: answers chat completions and records what reached it. Each answer
 * reports `usage` as OpenAI's do: 10 prompt tokens and 5 completion tokens unless told otherwise.
 *
 * A call with `"stream": true` is answered as OpenAI streams (`text/event-stream`): four
 * `chat.completion.chunk` events ("Hel", "lo", "!", then the finish reason), then, only when the call
 * had `stream_options.include_usage: true`, the usage chunk (`choices: []`; the other chunks then carry
 * `usage: null`, as OpenAI's do), then `data: [DONE]`; STREAM_EVENT_GAP_MS between events, and the
 * usage chunk written in two halves with a pause between them, cut inside its JSON.
 */
export async function startUpstream(
  usage: { prompt_tokens: number; completion_tokens: number } = { prompt_tokens: 10, completion_tokens: 5 },
  options: UpstreamOptions = {},
): Promise<Upstream> {
  const { encoding } = options;
  /** The answer's body as sent: through the compressor of `encoding`, flushed after each write. */
  const bodyOf = (res: http.ServerResponse): { write(text: string): void; end(): void } => {
    if (encoding === undefined || encoding === 'x-unknown') return { write: (text) => void res.write(text), end: () => void res.end() };
    const compressor = zlib.createGzip();
    compressor.pipe(res);
    return { write: (text) => (compressor.write(text), compressor.flush()), end: () => void compressor.end() };
  };
  const encodingHeader = encoding !== undefined ? { 'content-encoding': encoding } : {};
  const calls: Upstream['calls'] = [];
  const streams: Upstream['streams'] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const parsed = body ? JSON.parse(body) : {};
      calls.push({
        path: req.url ?? '',
        keyUuid: req.headers['x-key-uuid'] as string | undefined,
        authorization: req.headers.authorization,
        acceptEncoding: req.headers['accept-encoding'],
        body: parsed,
      });
      if (parsed.stream === true) return void stream(parsed, res);
      res.writeHead(200, { 'content-type': 'application/json', ...encodingHeader });
      const out = bodyOf(res);
      out.write(
        JSON.stringify({
          id: 'chatcmpl-1',
          object: 'chat.completion',
          model: parsed.model,
          choices: [{ index: 0, message: { role: 'assistant', content: 'hi' } }],
          usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
        }),
      );
      out.end();
    });
  });
  const stream = async (parsed: any, res: http.ServerResponse) => {
    const record: Upstream['streams'][number] = { endedAt: null, cancelled: false };
    streams.push(record);
    res.on('close', () => (record.cancelled = record.endedAt === null));
    const withUsage = parsed.stream_options?.include_usage === true;
    const event = (fields: object) => `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: parsed.model, ...fields })}

`;
    const chunk = (delta: object, finish: string | null) => event({ choices: [{ index: 0, delta, finish_reason: finish }], ...(withUsage ? { usage: null } : {}) });
    const events = [chunk({ role: 'assistant', content: 'Hel' }, null), chunk({ content: 'lo' }, null), chunk({ content: '!' }, null), chunk({}, 'stop')];
    if (withUsage) {
      const last = event({ choices: [], usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } });
      const cut = last.indexOf('"usage"') + 10;
      events.push(last.slice(0, cut), last.slice(cut));
    }
    events.push('data: [DONE]\n\n');
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...encodingHeader });
    const out = bodyOf(res);
    for (const [i, text] of events.entries()) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, STREAM_EVENT_GAP_MS));
      if (res.destroyed) return;
      out.write(text);
    }
    record.endedAt = Date.now();
    out.end();
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    streams,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Polls until `check` holds; returns how long it took. */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 5000, what = 'the condition'): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`${what} did not hold within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A service, a local upstream and reference gateways in front of them (startGatewayRig). */
export interface GatewayRig {
  readonly service: ServiceProcess;
  readonly upstream: Upstream;
  readonly gateways: GatewayProcess[];
  /** An owner token of team-1. */
  readonly owner: string;
}

/**
 * A reference gateway's environment in front of `service` and `upstream`: the service's URL (or
 * `env.KEY_SERVICE_URL`, e.g. a proxy's), a gateway token, the upstream, a 1.5 s feed-silence bound,
 * and `env` on top.
 */
export function rigGatewayEnv(service: ServiceProcess, upstream: Upstream, env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    KEY_SERVICE_URL: service.baseUrl,
    GATEWAY_TOKEN: service.token('platform', 'gw', 'gateway'),
    UPSTREAM_URL: upstream.url,
    FEED_MAX_SILENCE_MS: '1500',
    ...env,
  };
}

/**
 * Starts a service (feed heartbeat 200 ms, `serviceEnv` on top), an upstream that reports `usage` per
 * answer, and `count` reference gateways on them, each with rigGatewayEnv(service, upstream, env). The caller kills the gateways and the
 * service, and closes the upstream.
 */
export async function startGatewayRig(
  count: number,
  env: NodeJS.ProcessEnv,
  usage?: { prompt_tokens: number; completion_tokens: number },
  serviceEnv: NodeJS.ProcessEnv = {},
): Promise<GatewayRig> {
  const service = await startService({ env: { REVOCATION_HEARTBEAT_MS: '200', ...serviceEnv } });
  const upstream = await startUpstream(usage);
  const gatewayEnv = rigGatewayEnv(service, upstream, env);
  const gateways = await Promise.all(Array.from({ length: count }, () => startGateway(gatewayEnv)));
  return { service, upstream, gateways, owner: service.token('team-1', 'u1', 'owner') };
}

/** An answer as its bytes arrived: no decoding, whatever its content-encoding. */
export interface RawAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

/**
 * A request with node:http, which sends exactly the headers given (fetch adds Accept-Encoding and a
 * Content-Type of its own) and decodes nothing of the answer. `body`: the bytes sent as they are.
 */
export function rawRequest(baseUrl: string, method: string, path: string, headers: http.OutgoingHttpHeaders, body?: string | Buffer): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const request = http.request(`${baseUrl}${path}`, { method, headers }, (response) => {
      const pieces: Buffer[] = [];
      response.on('data', (piece: Buffer) => pieces.push(piece));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(pieces) }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(body);
  });
}
