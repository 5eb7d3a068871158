/**
 * npm run bench:commands — 32 concurrent HTTP clients doing create, rename and regenerate against the
 * started service on the SQLite store, next to the raw durable single-row insert rate of SQLite on
 * the same disk measured in the same run (the baseline: these machines are shared, ratios hold).
 * BENCH_SECONDS (default 20) sets the measured duration, BENCH_CLIENTS (default 32) the concurrency.
 */
import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Pool } from 'undici';
import { WORK, benchToken, percentile, startServiceProcess, stopProcess } from './support';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 32);

/** One row per transaction, WAL, synchronous=FULL: what one un-batched durable command would cost. */
function rawDurableInsertRate(dir: string, seconds: number): number {
  const file = path.join(dir, 'baseline.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE rows (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
  const insert = db.prepare('INSERT INTO rows (body) VALUES (?)');
  const body = 'x'.repeat(400);
  let n = 0;
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    insert.run(body);
    n++;
  }
  db.close();
  return n / seconds;
}

async function main(): Promise<void> {
  fs.rmSync(WORK, { recursive: true, force: true });
  fs.mkdirSync(WORK, { recursive: true });
  console.error(`baseline: raw durable single-row inserts for ${Math.min(5, SECONDS)} s...`);
  const baseline = rawDurableInsertRate(WORK, Math.min(5, SECONDS));

  const { origin, child } = await startServiceProcess(path.join(WORK, 'service'));
  const token = benchToken('bench', '1', 'owner');
  const pool = new Pool(origin, { connections: CLIENTS, pipelining: 1 });
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const request = async (method: 'POST' | 'PUT', url: string, body?: object) => {
    const response = await pool.request({ method, path: url, headers, body: body ? JSON.stringify(body) : undefined });
    const text = await response.body.text();
    if (response.statusCode !== 200) throw new Error(`${method} ${url}: ${response.statusCode} ${text}`);
    return JSON.parse(text);
  };

  const latencies: Record<string, number[]> = { create: [], rename: [], regenerate: [] };
  let measuring = false;
  let stop = false;
  const client = async (c: number) => {
    const own: string[] = [];
    for (let i = 0; !stop; i++) {
      const op = own.length === 0 ? 'create' : (['create', 'rename', 'regenerate'] as const)[i % 3];
      const start = process.hrtime.bigint();
      if (op === 'create') own.push((await request('POST', '/v2/gen-ai/models/api_keys', { name: `c${c}-${i}` })).api_key_info.uuid);
      else if (op === 'rename') await request('PUT', `/v2/gen-ai/models/api_keys/${own[i % own.length]}`, { name: `c${c}-${i}` });
      else await request('PUT', `/v2/gen-ai/models/api_keys/${own[i % own.length]}/regenerate`);
      if (measuring) latencies[op].push(Number(process.hrtime.bigint() - start) / 1e6);
    }
  };
  console.error(`warming up for 2 s, then ${CLIENTS} clients for ${SECONDS} s...`);
  const clients = Array.from({ length: CLIENTS }, (_, c) => client(c));
  await new Promise((r) => setTimeout(r, 2000));
  measuring = true;
  const started = Date.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  measuring = false;
  const elapsed = (Date.now() - started) / 1000;
  stop = true;
  await Promise.all(clients);
  await pool.close();
  await stopProcess(child);

  const all = Object.values(latencies).flat().sort((a, b) => a - b);
  const rate = all.length / elapsed;
  const row = (name: string, values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return `${name.padEnd(12)} ${String(values.length).padStart(8)} ${(values.length / elapsed).toFixed(0).padStart(9)} ${percentile(sorted, 50).toFixed(2).padStart(8)} ${percentile(sorted, 99).toFixed(2).padStart(8)}`;
  };
  console.log(`bench:commands  ${new Date().toISOString()}  node ${process.version}  ${CLIENTS} clients, ${elapsed.toFixed(1)} s measured`);
  console.log(`${'command'.padEnd(12)} ${'count'.padStart(8)} ${'per s'.padStart(9)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)}`);
  for (const [name, values] of Object.entries(latencies)) console.log(row(name, values));
  console.log(row('all', all));
  console.log(`baseline: raw durable single-row SQLite inserts on the same disk: ${baseline.toFixed(0)}/s`);
  console.log(`ratio: durable commands/s over raw durable inserts/s = ${(rate / baseline).toFixed(2)}`);
  console.log(`target: >= 2000 commands/s with p99 <= 50 ms: ${rate >= 2000 && percentile(all, 99) <= 50 ? 'met' : 'NOT met'}`);
  fs.rmSync(WORK, { recursive: true, force: true });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
