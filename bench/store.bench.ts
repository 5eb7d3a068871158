/**
 * npm run bench:store — the event-store adapters side by side, on this machine, in one run:
 * appends/s with one event per append (one after another, then 32 at once) and replay (readAll in
 * pages) events/s, for SQLite and PostgreSQL (started by scripts/with-postgres.sh unless DATABASE_URL
 * is set). Each figure stands next to its driver's baseline measured in the same run: the raw durable
 * one-row INSERT per transaction, and the raw SELECT of the same table.
 *
 * Then our PostgreSQL store against Emmett's (@event-driven-io/emmett-postgresql) on the same server,
 * each in a database of its own, in PEER_ROUNDS alternating rounds (each round of each store in a
 * process of its own, bench/store-peer.ts): medians, and the ratio ours/Emmett on every row.
 */
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client } from 'pg';
import { EventStore, SqliteEventStore } from '@lib/event-store';
import { PostgresEventStore } from '@lib/event-store/postgres.event-store';
import { WORK, percentile } from './support';
import { CONCURRENCY as PEER_CONCURRENCY, CONCURRENT as PEER_CONCURRENT, FLEET_PROCESSES, ONE_STREAM, ONE_STREAM_SLICE, RoundFigures, SEQUENTIAL as PEER_SEQUENTIAL, Subject } from './store-peer';

const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 3000);
const CONCURRENT = Number(process.env.BENCH_CONCURRENT ?? 6000);
const CONCURRENCY = 32;
const REPLAY = Number(process.env.BENCH_REPLAY ?? 200_000);

const data = (i: number) => ({ keyUuid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, teamId: `team-${i % 100}`, name: `key-${i}`, at: '2026-11-22T10:00:00.000Z' });
const metadata = { actor: { userId: 'u1', role: 'owner', teamId: 'team-1' }, requestId: 'bench' };

interface Figures {
  sequential: { rate: number; p50: number; p99: number };
  concurrent: number;
  replay: number;
  baselineInsert: number;
  baselineScan: number;
}

async function appendsOneByOne(store: EventStore, prefix: string): Promise<Figures['sequential']> {
  const latencies: number[] = [];
  const started = performance.now();
  for (let i = 0; i < SEQUENTIAL; i++) {
    const t = performance.now();
    await store.appendToStream(`${prefix}-${i}`, [{ type: 'BenchEvent', data: data(i), metadata }], 'no_stream');
    latencies.push(performance.now() - t);
  }
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { rate: SEQUENTIAL / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

async function appendsAtOnce(store: EventStore, prefix: string): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < CONCURRENT; i = next++) {
        await store.appendToStream(`${prefix}-${i}`, [{ type: 'BenchEvent', data: data(i), metadata }], 'no_stream');
      }
    }),
  );
  return CONCURRENT / ((performance.now() - started) / 1000);
}

/** Fills the store to REPLAY events in appends of 100 events (the replay figure is about reading). */
async function fill(store: EventStore): Promise<void> {
  let have = await store.headPosition();
  for (let s = 0; have < REPLAY; s++) {
    const events = Array.from({ length: Math.min(100, REPLAY - have) }, (_, i) => ({ type: 'BenchEvent', data: data(i), metadata }));
    await store.appendToStream(`fill-${s}`, events, 'no_stream');
    have += events.length;
    if (s % 200 === 0) process.stderr.write(`  filled ${have} events\n`);
  }
}

async function replay(store: EventStore): Promise<number> {
  const started = performance.now();
  let position = 0;
  let events = 0;
  for (;;) {
    const page = await store.readAll(position, { limit: 5000 });
    if (page.length === 0) break;
    events += page.length;
    position = page[page.length - 1].position;
  }
  return events / ((performance.now() - started) / 1000);
}

function sqliteBaselines(dir: string): { insert: number; scan: number } {
  const db = new Database(path.join(dir, 'raw.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE raw (position INTEGER PRIMARY KEY AUTOINCREMENT, stream_id TEXT, data TEXT)');
  const insert = db.prepare('INSERT INTO raw (stream_id, data) VALUES (?, ?)');
  const body = JSON.stringify(data(1));
  let started = performance.now();
  for (let i = 0; i < SEQUENTIAL; i++) insert.run(`s-${i}`, body);
  const insertRate = SEQUENTIAL / ((performance.now() - started) / 1000);
  db.close();
  const events = new Database(path.join(dir, 'events.db'), { readonly: true });
  started = performance.now();
  let rows = 0;
  for (const row of events.prepare<[], { data: string }>('SELECT * FROM events ORDER BY position').iterate()) rows += row.data.length > 0 ? 1 : 0;
  const scanRate = rows / ((performance.now() - started) / 1000);
  events.close();
  return { insert: insertRate, scan: scanRate };
}

async function postgresBaselines(url: string): Promise<{ insert: number; scan: number }> {
  const client = new Client({ connectionString: url });
  await client.connect();
  await client.query('CREATE TABLE raw (position BIGSERIAL PRIMARY KEY, stream_id TEXT, data JSON)');
  const body = JSON.stringify(data(1));
  let started = performance.now();
  for (let i = 0; i < SEQUENTIAL; i++) await client.query('INSERT INTO raw (stream_id, data) VALUES ($1, $2)', [`s-${i}`, body]);
  const insertRate = SEQUENTIAL / ((performance.now() - started) / 1000);
  started = performance.now();
  let rows = 0;
  for (let after = 0; ; ) {
    const page = await client.query<{ position: string }>('SELECT * FROM events WHERE position > $1 ORDER BY position LIMIT 5000', [after]);
    if (page.rows.length === 0) break;
    rows += page.rows.length;
    after = Number(page.rows[page.rows.length - 1].position);
  }
  const scanRate = rows / ((performance.now() - started) / 1000);
  await client.end();
  return { insert: insertRate, scan: scanRate };
}

async function measure(name: string, open: () => Promise<EventStore>, baselines: () => Promise<{ insert: number; scan: number }>): Promise<Figures> {
  process.stderr.write(`${name}: appends one by one...\n`);
  const store = await open();
  const sequential = await appendsOneByOne(store, 'seq');
  process.stderr.write(`${name}: ${CONCURRENCY} appends at once...\n`);
  const concurrent = await appendsAtOnce(store, 'par');
  process.stderr.write(`${name}: filling to ${REPLAY} events for the replay...\n`);
  await fill(store);
  await replay(store); // warm
  const replayRate = await replay(store);
  await store.close();
  process.stderr.write(`${name}: baselines...\n`);
  const base = await baselines();
  return { sequential, concurrent, replay: replayRate, baselineInsert: base.insert, baselineScan: base.scan };
}

const PEER_ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PEER_FILL = Number(process.env.BENCH_PEER_FILL ?? 100_000);
const FLEET = Number(process.env.BENCH_FLEET ?? 4000);
const PEER_SCRIPT = path.join(__dirname, 'store-peer.js');

/** Runs bench/store-peer.js and answers what it printed. */
function peerProcess(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PEER_SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`store-peer.js ${args.join(' ')} exited with ${code}`))));
  });
}

/** FLEET_PROCESSES processes on one database, started together once all are connected: appends/s. */
async function fleet(subject: Subject, url: string, tag: string): Promise<number> {
  const children = Array.from({ length: FLEET_PROCESSES }, (_, p) =>
    spawn(process.execPath, [PEER_SCRIPT, subject, url, 'fleet-part', `${tag}p${p}`, String(FLEET / FLEET_PROCESSES)], { stdio: ['pipe', 'pipe', 'inherit'] }),
  );
  const said = (child: (typeof children)[number], word: string) =>
    new Promise<void>((resolve, reject) => {
      let out = '';
      const onData = (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes(`${word}\n`)) {
          child.stdout.off('data', onData);
          resolve();
        }
      };
      child.stdout.on('data', onData);
      child.once('exit', (code) => reject(new Error(`a fleet process exited with ${code} before saying ${word}`)));
    });
  await Promise.all(children.map((child) => said(child, 'ready')));
  const done = children.map((child) => said(child, 'done'));
  const started = performance.now();
  for (const child of children) child.stdin.end('go\n');
  await Promise.all(done);
  const rate = FLEET / ((performance.now() - started) / 1000);
  await Promise.all(children.map((child) => new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)))));
  return rate;
}

interface PeerFigures extends RoundFigures {
  fleet: number;
}

async function peers(adminUrl: string): Promise<Record<Subject, PeerFigures[]>> {
  const urls = {} as Record<Subject, string>;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  for (const subject of ['ours', 'emmett'] as const) {
    await admin.query(`DROP DATABASE IF EXISTS bench_store_${subject}`);
    await admin.query(`CREATE DATABASE bench_store_${subject}`);
    urls[subject] = Object.assign(new URL(adminUrl), { pathname: `/bench_store_${subject}` }).toString();
  }
  const settings = await admin.query<{ name: string; setting: string }>(`SELECT name, setting FROM pg_settings WHERE name IN ('synchronous_commit', 'fsync', 'server_version')`);
  process.stderr.write(`peers: ${settings.rows.map((r) => `${r.name}=${r.setting}`).join(', ')}\n`);
  await admin.end();
  for (const subject of ['ours', 'emmett'] as const) {
    process.stderr.write(`peers: filling ${subject} with ${PEER_FILL} events...\n`);
    await peerProcess([subject, urls[subject], 'fill', 'fill', String(PEER_FILL)]);
  }
  const figures: Record<Subject, PeerFigures[]> = { ours: [], emmett: [] };
  for (let round = 1; round <= PEER_ROUNDS; round++) {
    const order: Subject[] = round % 2 === 1 ? ['ours', 'emmett'] : ['emmett', 'ours'];
    for (const subject of order) {
      process.stderr.write(`peers: round ${round}, ${subject}...\n`);
      const figuresOfRound = JSON.parse(await peerProcess([subject, urls[subject], 'round', `r${round}`])) as RoundFigures;
      figures[subject].push({ ...figuresOfRound, fleet: await fleet(subject, urls[subject], `r${round}`) });
    }
  }
  return figures;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function printPeers(figures: Record<Subject, PeerFigures[]>): void {
  const f = (n: number) => Math.round(n).toLocaleString('en-US');
  const spread = (values: number[]) => `${f(median(values))} (${f(Math.min(...values))}–${f(Math.max(...values))})`;
  const row = (label: string, pick: (r: PeerFigures) => number) => {
    const ours = figures.ours.map(pick);
    const emmett = figures.emmett.map(pick);
    console.log(`| ${label} | ${spread(ours)} | ${spread(emmett)} | ${(median(ours) / median(emmett)).toFixed(2)} |`);
  };
  console.log('');
  console.log(`Our PostgreSQL store against Emmett's, same server, ${PEER_ROUNDS} alternating rounds: median (lowest–highest)`);
  console.log('| figure | ours | Emmett | ours/Emmett |');
  console.log('|---|---:|---:|---:|');
  row(`appends/s, one event each to a new stream, one after another (${PEER_SEQUENTIAL})`, (r) => r.sequential);
  row(`appends/s, ${PEER_CONCURRENCY} concurrent appenders (${PEER_CONCURRENT})`, (r) => r.concurrent);
  row(`appends/s, ${PEER_CONCURRENCY} concurrent appenders in ${FLEET_PROCESSES} processes on one database (${FLEET})`, (r) => r.fleet);
  row(`appends/s to one existing stream with an expected version (${ONE_STREAM})`, (r) => r.oneStream);
  row(`  its first ${ONE_STREAM_SLICE} appends`, (r) => r.oneStreamFirst);
  row(`  its last ${ONE_STREAM_SLICE} appends`, (r) => r.oneStreamLast);
  row(`full read in global order, pages of 5,000, events/s (${f(figures.ours[figures.ours.length - 1].readEvents)} events at the end)`, (r) => r.read);
}

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set: run npm run bench:store, which starts PostgreSQL');
  const onlyPeers = process.env.BENCH_ONLY === 'peers';
  const peerFigures = await peers(url);
  if (onlyPeers) {
    console.log(`bench:store  ${new Date().toISOString()}  node ${process.version}`);
    printPeers(peerFigures);
    return;
  }
  const dir = path.join(WORK, 'store');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const admin = new Client({ connectionString: url });
  await admin.connect();
  await admin.query('DROP DATABASE IF EXISTS bench_store');
  await admin.query('CREATE DATABASE bench_store');
  await admin.end();
  const benchUrl = Object.assign(new URL(url), { pathname: '/bench_store' }).toString();

  const sqlite = await measure('sqlite', async () => new SqliteEventStore(path.join(dir, 'events.db')), async () => sqliteBaselines(dir));
  const postgres = await measure('postgres', () => PostgresEventStore.connect(benchUrl), () => postgresBaselines(benchUrl));

  const f = (n: number) => Math.round(n).toLocaleString('en-US');
  const row = (label: string, s: string, p: string) => console.log(`| ${label} | ${s} | ${p} |`);
  console.log(`bench:store  ${new Date().toISOString()}  node ${process.version}`);
  console.log(`| figure | SQLite | PostgreSQL |`);
  console.log(`|---|---:|---:|`);
  row(`appends/s, one event each, one after another (${SEQUENTIAL})`, f(sqlite.sequential.rate), f(postgres.sequential.rate));
  row('  latency p50 / p99 (ms)', `${sqlite.sequential.p50.toFixed(2)} / ${sqlite.sequential.p99.toFixed(2)}`, `${postgres.sequential.p50.toFixed(2)} / ${postgres.sequential.p99.toFixed(2)}`);
  row('  baseline: raw durable one-row INSERT per transaction, /s', f(sqlite.baselineInsert), f(postgres.baselineInsert));
  row('  ratio to the baseline', (sqlite.sequential.rate / sqlite.baselineInsert).toFixed(2), (postgres.sequential.rate / postgres.baselineInsert).toFixed(2));
  row(`appends/s, ${CONCURRENCY} at once (${CONCURRENT})`, f(sqlite.concurrent), f(postgres.concurrent));
  row(`replay: readAll in pages of 5,000, events/s (${REPLAY.toLocaleString('en-US')} events)`, f(sqlite.replay), f(postgres.replay));
  row('  baseline: raw SELECT of the same table, rows/s', f(sqlite.baselineScan), f(postgres.baselineScan));
  row('  ratio to the baseline', (sqlite.replay / sqlite.baselineScan).toFixed(2), (postgres.replay / postgres.baselineScan).toFixed(2));
  printPeers(peerFigures);
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
