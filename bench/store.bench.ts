/**
 * npm run bench:store — the event-store adapters side by side, on this machine, in one run:
 * appends/s with one event per append (one after another, then 32 at once) and replay (readAll in
 * pages) events/s, for SQLite and PostgreSQL (started by scripts/with-postgres.sh unless DATABASE_URL
 * is set). Each figure stands next to its driver's baseline measured in the same run: the raw durable
 * one-row INSERT per transaction, and the raw SELECT of the same table.
 */
import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client } from 'pg';
import { EventStore, SqliteEventStore } from '@lib/event-store';
import { PostgresEventStore } from '@lib/event-store/postgres.event-store';
import { WORK, percentile } from './support';

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

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set: run npm run bench:store, which starts PostgreSQL');
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
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
