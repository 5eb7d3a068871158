/**
 * npm run bench:scale — the seed (scale-seed.ts, a process of its own) writes BENCH_KEYS (default
 * 1,000,000) live keys into a fresh SQLite event store, across 100 teams with mixed scopes. Then, on the
 * built service started as its own process (as test/support/service-process.ts starts it):
 * - the time to ready (GET /readyz 200) with no read models (cold: the bulk catch-up), and the RSS;
 * - verify p50 and p99 (POST /v1/keys/verify with real secrets: the seed derives them), a list's first
 *   and last page at 100 per page, a create and a regenerate on a store of that size;
 * - the time to ready on a restart with the views built, and the RSS;
 * - `keyctl audit verify` over the whole log (the service stopped);
 * and, as the baseline measured in the same run, the raw scan rate of the events table.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Pool } from 'undici';
import { ROOT, WORK, benchToken, freePort, percentile, rawScanRate } from './support';
import { SCALE_TEAMS, scaleKeyOf, scaleKeyUuid, scaleSecretOf, scaleTeam, scaleUser } from './scale-seed';

const KEYS = Number(process.env.BENCH_KEYS ?? 1_000_000);
const VERIFY_CALLS = 5_000;
const PAGE_CALLS = 10;
const COMMANDS = 20;
const TARGET = { coldSeconds: 15, restartSeconds: 3, rssMb: 600 };


/** Resident and peak resident set of a process, in MB (Linux /proc). */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

interface Started {
  readonly child: ChildProcess;
  readonly origin: string;
  /** From the spawn to the first GET /readyz 200, in seconds. */
  readonly readySeconds: number;
  /** At that moment, in MB. */
  readonly memory: { rss: number; peak: number };
}

/** The built service on `dataDir`, as its own process; resolves once /readyz answers 200. */
async function startUntilReady(dataDir: string): Promise<Started> {
  const port = await freePort();
  const { AUTH_JWT_SECRET: _ignored, ...inherited } = process.env;
  const started = performance.now();
  const child = spawn(process.execPath, [path.join(ROOT, 'dist/apps/key-service/src/main.js')], {
    env: { ...inherited, NODE_ENV: 'test', HOST: '127.0.0.1', PORT: String(port), GRPC_PORT: String(await freePort()), DATA_DIR: dataDir, LOG_LEVEL: 'error' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const origin = `http://127.0.0.1:${port}`;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the service exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${origin}/readyz`, { signal: AbortSignal.timeout(1000) })).status === 200) break;
    } catch {
      // not listening yet
    }
    if (performance.now() - started > 600_000) throw new Error('the service was not ready within 10 minutes');
    await new Promise((r) => setTimeout(r, 25));
  }
  const readySeconds = (performance.now() - started) / 1000;
  return { child, origin, readySeconds, memory: memoryOf(child.pid!) };
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** Milliseconds of each call, sorted. */
async function timed(calls: number, call: (i: number) => Promise<void>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < calls; i++) {
    const started = performance.now();
    await call(i);
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b);
}

async function measureCalls(origin: string): Promise<Record<string, number[]>> {
  const pool = new Pool(origin, { connections: 1, pipelining: 1 });
  const request = async (method: 'GET' | 'POST' | 'PUT', url: string, token: string, body?: object) => {
    const response = await pool.request({
      method,
      path: url,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.body.text();
    if (response.statusCode !== 200) throw new Error(`${method} ${url}: ${response.statusCode} ${text}`);
    return JSON.parse(text);
  };
  const gateway = benchToken('team-0', 'gateway-0', 'gateway');
  // Spread over the whole store, each call as its key's scope allows (so every answer must be VALID).
  const verifyBody = (i: number) => {
    const n = (i * 7_919 + 13) % KEYS;
    const key = scaleKeyOf(n);
    return { key: scaleSecretOf(n), model: key.models === 'all' ? 'any-model' : key.models[0], ...(key.vpcUuid ? { vpc_uuid: key.vpcUuid } : {}), ...(key.batch ? { batch: true } : {}) };
  };
  for (let i = 0; i < 200; i++) await request('POST', '/v1/keys/verify', gateway, verifyBody(i)); // warm-up
  const verify = await timed(VERIFY_CALLS, async (i) => {
    const answer = await request('POST', '/v1/keys/verify', gateway, verifyBody(i));
    if (answer.code !== 'VALID') throw new Error(`verify of seeded key ${(i * 7_919 + 13) % KEYS}: ${JSON.stringify(answer)}`);
  });

  // The team's owner sees all its keys (KEYS / 100), newest first.
  const team = 0;
  const owner = benchToken(scaleTeam(team), scaleUser(team), 'owner');
  const teamKeys = Math.ceil(KEYS / SCALE_TEAMS);
  const lastPage = Math.ceil(teamKeys / 100);
  const list = (page: number) => async () => {
    const answer = await request('GET', `/v2/gen-ai/models/api_keys?page=${page}&per_page=100`, owner);
    if (answer.meta.total !== teamKeys || answer.api_key_infos.length === 0) throw new Error(`page ${page}: ${answer.meta.total} keys, ${answer.api_key_infos.length} on the page`);
  };
  const firstPage = await timed(PAGE_CALLS, list(1));
  const lastPageTimes = await timed(PAGE_CALLS, list(lastPage));

  const create = await timed(COMMANDS, async (i) => {
    await request('POST', '/v2/gen-ai/models/api_keys', owner, { name: `bench-scale-${i}` });
  });
  const regenerate = await timed(COMMANDS, async (i) => {
    await request('PUT', `/v2/gen-ai/models/api_keys/${scaleKeyUuid(team + SCALE_TEAMS * (i + 1))}/regenerate`, owner);
  });
  await pool.close();
  return { verify, firstPage, lastPage: lastPageTimes, create, regenerate };
}

async function main(): Promise<void> {
  if (!Number.isInteger(KEYS) || KEYS < SCALE_TEAMS * (COMMANDS + 1)) throw new Error(`BENCH_KEYS must be a whole number of at least ${SCALE_TEAMS * (COMMANDS + 1)}`);
  const dir = path.join(WORK, 'scale');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const events = path.join(dir, 'events.db');

  process.stderr.write(`seeding ${KEYS} keys...\n`);
  let started = performance.now();
  execFileSync(process.execPath, [path.join(__dirname, 'scale-seed.js'), events, String(KEYS)], { stdio: ['ignore', 'inherit', 'inherit'] });
  const seedSeconds = (performance.now() - started) / 1000;
  rawScanRate(events); // warms the page cache, as the service will find it
  const scanBefore = rawScanRate(events);

  process.stderr.write('cold start (no read models)...\n');
  const cold = await startUntilReady(dir);
  process.stderr.write('calls...\n');
  const calls = await measureCalls(cold.origin);
  await stop(cold.child);

  process.stderr.write('restart with the views built...\n');
  const restart = await startUntilReady(dir);
  await new Promise((r) => setTimeout(r, 2000));
  const settled = memoryOf(restart.child.pid!);
  await stop(restart.child);

  process.stderr.write('keyctl audit verify...\n');
  started = performance.now();
  const audit = execFileSync(process.execPath, [path.join(ROOT, 'dist/apps/key-service/src/cli/keyctl.js'), 'audit', 'verify'], {
    env: { ...process.env, DATA_DIR: dir, NODE_ENV: 'test', LOG_LEVEL: 'error' },
    stdio: ['ignore', 'pipe', 'ignore'],
  }).toString().trim();
  const auditSeconds = (performance.now() - started) / 1000;
  const scanAfter = rawScanRate(events);
  fs.rmSync(dir, { recursive: true, force: true });

  const scan = (scanBefore + scanAfter) / 2;
  const scanSeconds = KEYS / scan;
  const ms = (values: number[]) => `p50 ${percentile(values, 50).toFixed(2)} ms, p99 ${percentile(values, 99).toFixed(2)} ms`;
  const mb = (memory: { rss: number; peak: number }) => `RSS ${memory.rss.toFixed(0)} MB (peak ${memory.peak.toFixed(0)} MB)`;
  console.log(`bench:scale  ${new Date().toISOString()}  node ${process.version}  ${KEYS} live keys, ${SCALE_TEAMS} teams`);
  console.log(`seeded in ${seedSeconds.toFixed(1)} s (scale-seed.js, its own process)`);
  console.log(`baseline: raw scan of the events table ${scan.toFixed(0)} rows/s (before ${scanBefore.toFixed(0)}, after ${scanAfter.toFixed(0)}): the whole log in ${scanSeconds.toFixed(2)} s`);
  console.log(`cold start (no read models) to ready:  ${cold.readySeconds.toFixed(2)} s = ${(cold.readySeconds / scanSeconds).toFixed(1)} raw scans; ${mb(cold.memory)}`);
  console.log(`restart (views built) to ready:        ${restart.readySeconds.toFixed(2)} s = ${(restart.readySeconds / scanSeconds).toFixed(1)} raw scans; ${mb(restart.memory)}; 2 s later RSS ${settled.rss.toFixed(0)} MB`);
  console.log(`verify (${VERIFY_CALLS} calls, one connection): ${ms(calls.verify)}`);
  console.log(`list, 100 per page, ${PAGE_CALLS} calls each: first page ${ms(calls.firstPage)}; last page ${ms(calls.lastPage)}`);
  console.log(`create (${COMMANDS}): ${ms(calls.create)}; regenerate (${COMMANDS}): ${ms(calls.regenerate)}`);
  console.log(`keyctl audit verify: ${auditSeconds.toFixed(2)} s = ${(auditSeconds / scanSeconds).toFixed(1)} raw scans (${audit})`);
  const rss = Math.max(cold.memory.rss, restart.memory.rss, settled.rss);
  const met = cold.readySeconds <= TARGET.coldSeconds && restart.readySeconds <= TARGET.restartSeconds && rss <= TARGET.rssMb;
  console.log(
    `target: cold <= ${TARGET.coldSeconds} s, restart <= ${TARGET.restartSeconds} s, RSS <= ${TARGET.rssMb} MB at ready: ${met ? 'met' : 'NOT met'}` +
      ` (cold ${cold.readySeconds.toFixed(1)} s, restart ${restart.readySeconds.toFixed(1)} s, RSS ${rss.toFixed(0)} MB)`,
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
