import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { databaseFor, usesPostgres } from './postgres';

export const ROOT = path.resolve(__dirname, '..', '..');
export const MAIN = path.join(ROOT, 'dist/apps/key-service/src/main.js');
export const KEYCTL = path.join(ROOT, 'dist/apps/key-service/src/cli/keyctl.js');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Starts a built entry point and waits until its /healthz answers; its output is kept for errors. */
export async function spawnUntilHealthy(
  what: string,
  main: string,
  env: NodeJS.ProcessEnv,
  baseUrl: string,
  /** For an https:// baseUrl: the CA (PEM file) its certificate is checked against. */
  caFile?: string,
): Promise<{ child: ChildProcess; output: () => string }> {
  const dispatcher = caFile ? new Agent({ connect: { ca: fs.readFileSync(caFile) } }) : undefined;
  const child = spawn(process.execPath, [main], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}: ${out}`);
    try {
      if ((await undiciFetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(1000), dispatcher })).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${what} did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await dispatcher?.close();
  return { child, output: () => out };
}

export interface ServiceProcess {
  readonly baseUrl: string;
  readonly grpcAddress: string;
  readonly dataDir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly child: ChildProcess;
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
  keyctl(...args: string[]): { status: number | null; stdout: string; stderr: string };
  token(team: string, user: string, role: string): string;
}

/** The built service (npm test builds first) as its own process, on loopback and a temporary DATA_DIR. */
/** tlsCaFile: the service serves HTTPS (env sets TLS_CERT_FILE and TLS_KEY_FILE) with a certificate from this CA. */
export async function startService(options: { dataDir?: string; env?: NodeJS.ProcessEnv; tlsCaFile?: string } = {}): Promise<ServiceProcess> {
  if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build first (npm test does)`);
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'key-service-e2e-'));
  // A given PORT or GRPC_PORT (a restart on the same address) is kept; otherwise free ones are picked.
  const port = options.env?.PORT ? Number(options.env.PORT) : await freePort();
  const grpcPort = options.env?.GRPC_PORT ? Number(options.env.GRPC_PORT) : await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'test', HOST: '127.0.0.1', PORT: String(port), GRPC_PORT: String(grpcPort), DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...options.env };
  // On PostgreSQL (npm run test:postgres), each DATA_DIR gets a database of its own on the test server,
  // unless env names one: instances of one fleet share it.
  if (usesPostgres(env) && options.env?.DATABASE_URL === undefined) env.DATABASE_URL = await databaseFor(dataDir);
  const baseUrl = `${options.tlsCaFile ? 'https' : 'http'}://127.0.0.1:${port}`;
  const { child, output } = await spawnUntilHealthy('service', MAIN, env, baseUrl, options.tlsCaFile);
  const keyctl = (...args: string[]) => {
    const result = spawnSync(process.execPath, [KEYCTL, ...args], { env, encoding: 'utf8', timeout: 60_000 });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  };
  return {
    baseUrl,
    grpcAddress: `127.0.0.1:${grpcPort}`,
    dataDir,
    env,
    child,
    output,
    keyctl,
    token: (team, user, role) => keyctl('token', '--team', team, '--user', user, '--role', role).stdout.trim(),
    kill: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill(signal);
      }),
  };
}

export async function api(base: string, method: string, url: string, token: string | null, body?: unknown) {
  const response = await fetch(`${base}${url}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}
