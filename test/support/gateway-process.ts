import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
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
  readonly calls: Array<{ path: string; keyUuid: string | undefined; authorization: string | undefined; body: any }>;
  close(): Promise<void>;
}

/**
 * A small OpenAI-style upstream: answers chat completions and records what reached it. Each answer
 * reports `usage` as OpenAI's do: 10 prompt tokens and 5 completion tokens unless told otherwise.
 */
export async function startUpstream(usage: { prompt_tokens: number; completion_tokens: number } = { prompt_tokens: 10, completion_tokens: 5 }): Promise<Upstream> {
  const calls: Upstream['calls'] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const parsed = body ? JSON.parse(body) : {};
      calls.push({ path: req.url ?? '', keyUuid: req.headers['x-key-uuid'] as string | undefined, authorization: req.headers.authorization, body: parsed });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'chatcmpl-1',
          object: 'chat.completion',
          model: parsed.model,
          choices: [{ index: 0, message: { role: 'assistant', content: 'hi' } }],
          usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, calls, close: () => new Promise((resolve) => server.close(() => resolve())) };
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
 * Starts a service (feed heartbeat 200 ms, `serviceEnv` on top), an upstream that reports `usage` per
 * answer, and `count` reference gateways on them. Each gateway gets the service's URL, a gateway token,
 * the upstream, a 1.5 s feed-silence bound, and `env` on top. The caller kills the gateways and the
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
  const gatewayEnv = {
    KEY_SERVICE_URL: service.baseUrl,
    GATEWAY_TOKEN: service.token('platform', 'gw', 'gateway'),
    UPSTREAM_URL: upstream.url,
    FEED_MAX_SILENCE_MS: '1500',
    ...env,
  };
  const gateways = await Promise.all(Array.from({ length: count }, () => startGateway(gatewayEnv)));
  return { service, upstream, gateways, owner: service.token('team-1', 'u1', 'owner') };
}
