/**
 * npm run bench:replay — the seed script (replay-seed.ts, a process of its own) writes BENCH_EVENTS
 * (default 1,000,000) model-key events into a fresh SQLite event store; this process then rebuilds
 * every read model from them (aside and swapped in, as `keyctl projections rebuild` does, in a
 * process that has done nothing else) and prints events/s next to the raw scan rate of the same
 * table measured in the same run.
 */
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SqliteEventStore } from '@lib/event-store';
import { rebuildAsideAndSwap } from '../apps/key-service/src/keys/projections/projection-rebuild';
import { openReadModelDatabase } from '../apps/key-service/src/keys/projections/read-model.database';
import { PROJECTION_CLASSES } from '../apps/key-service/src/read-models';
import { WORK } from './support';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);

function rawScanRate(file: string): { rate: number; rows: number } {
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
  if (bytes < 0) console.log(bytes);
  return { rate: rows / seconds, rows };
}

async function main(): Promise<void> {
  const dir = path.join(WORK, 'replay');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'events.db');
  process.stderr.write(`seeding ${EVENTS} events...\n`);
  const seedStarted = performance.now();
  execFileSync(process.execPath, [path.join(__dirname, 'replay-seed.js'), file, String(EVENTS)], { stdio: ['ignore', 'inherit', 'inherit'] });
  const seedSeconds = (performance.now() - seedStarted) / 1000;

  process.stderr.write('baseline: raw scan of the events table...\n');
  rawScanRate(file); // warm the page cache like the rebuild's first read
  const raw = rawScanRate(file);

  process.stderr.write('rebuilding every read model...\n');
  const store = new SqliteEventStore(file);
  const db = openReadModelDatabase(dir);
  const classes = PROJECTION_CLASSES;
  const started = performance.now();
  const result = await rebuildAsideAndSwap(store, db, {
    aside: classes.map((Class) => new Class()),
    live: classes.map((Class) => new Class()),
    progress: (events) => process.stderr.write(`  ${events} events applied\n`),
  });
  const seconds = (performance.now() - started) / 1000;
  const rows = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM key_views').get()!.n;
  db.close();
  await store.close();

  const rate = result.events / seconds;
  console.log(`bench:replay  ${new Date().toISOString()}  node ${process.version}`);
  console.log(`seeded ${EVENTS} events in ${seedSeconds.toFixed(1)} s (replay-seed.js, its own process)`);
  console.log(`rebuild of every read model (${classes.map((C) => new C().name).join(', ')}): ${result.events} events in ${seconds.toFixed(1)} s = ${rate.toFixed(0)} events/s (${rows} key rows)`);
  console.log(`baseline: raw scan of the same table (SELECT * ORDER BY position, every row read): ${raw.rate.toFixed(0)} rows/s`);
  console.log(`ratio ${(rate / raw.rate).toFixed(2)}; target >= 150,000 events/s and >= 0.5 of the raw scan: ${rate >= 150_000 && rate / raw.rate >= 0.5 ? 'met' : 'NOT met'}`);
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
