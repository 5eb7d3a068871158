import { ChildProcess, spawn } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { Agent, fetch as undiciFetch } from 'undici';
import { TokenService } from '../apps/key-service/src/auth/token.service';
import { Role } from '../apps/key-service/src/auth/principal';
import { DEFAULT_MAX_TOKEN_TTL_S, DEVELOPMENT_JWT_SECRET } from '../apps/key-service/src/config/app.config';

/** The benchmarks run compiled, from dist/bench/. */
export const ROOT = path.resolve(__dirname, '..', '..');
export const WORK = path.join(ROOT, '.bench-data');

export function percentile(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Benchmarks sign their tokens with the development secret, so the service must use it too. */
export function benchToken(teamId: string, userId: string, role: Role): string {
  return new TokenService({ jwtSecret: DEVELOPMENT_JWT_SECRET, maxTokenTtlSeconds: DEFAULT_MAX_TOKEN_TTL_S }).sign({ teamId, userId, role });
}

/** tlsCa: for an https origin, the CA (PEM) its certificate is checked against. */
export async function waitForHealth(origin: string, child: ChildProcess, tlsCa?: Buffer): Promise<void> {
  const dispatcher = tlsCa ? new Agent({ connect: { ca: tlsCa } }) : undefined;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`${origin}: the process exited with ${child.exitCode}`);
    try {
      if ((await undiciFetch(`${origin}/healthz`, { signal: AbortSignal.timeout(1000), dispatcher })).ok) return void (await dispatcher?.close());
    } catch {
      if (i > 300) throw new Error(`${origin} did not start`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** The built key service as its own process, on the SQLite store in `dataDir`; HTTPS when `tls` is given (env sets TLS_*). */
export async function startServiceProcess(dataDir: string, env: NodeJS.ProcessEnv = {}, tls?: { ca: Buffer }): Promise<{ origin: string; child: ChildProcess }> {
  const { AUTH_JWT_SECRET: _ignored, ...inherited } = process.env;
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(ROOT, 'dist/apps/key-service/src/main.js')], {
    env: { ...inherited, NODE_ENV: 'test', PORT: String(port), GRPC_PORT: String(await freePort()), DATA_DIR: dataDir, LOG_LEVEL: 'error', ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const origin = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  await waitForHealth(origin, child, tls?.ca);
  return { origin, child };
}

export function stopProcess(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/**
 * The baseline of the log-reading benchmarks: `SELECT * FROM events ORDER BY position` on a SQLite events
 * file, every row read into JavaScript; rows per second.
 */
export function rawScanRate(file: string): number {
  const db = new Database(file, { readonly: true });
  const started = performance.now();
  let rows = 0;
  let bytes = 0;
  for (const row of db.prepare<[], { data: string; metadata: string }>('SELECT * FROM events ORDER BY position').iterate()) {
    rows++;
    bytes += row.data.length + row.metadata.length;
  }
  const seconds = (performance.now() - started) / 1000;
  db.close();
  if (bytes < 0) console.log(bytes); // keeps the reads from being optimised away
  return rows / seconds;
}
