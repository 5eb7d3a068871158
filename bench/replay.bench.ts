/**
 * npm run bench:replay — seeds BENCH_EVENTS (default 1,000,000) model-key events into a fresh SQLite
 * event store (100,000 keys by default, ten events each, interleaved, hash-chained as the store
 * writes them), then rebuilds every read model from them (aside and swapped in, as
 * `keyctl projections rebuild` does) and prints events/s next to the raw scan rate of the same table
 * measured in the same run.
 */
import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SqliteEventStore, eventHash } from '@lib/event-store';
import { keyStreamId } from '../apps/key-service/src/keys/domain/model-access-key.events';
import { rebuildAsideAndSwap } from '../apps/key-service/src/keys/projections/projection-rebuild';
import { openReadModelDatabase } from '../apps/key-service/src/keys/projections/read-model.database';
import { PROJECTION_CLASSES } from '../apps/key-service/src/read-models';
import { WORK } from './support';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const PER_KEY = 10;
const KEYS_PER_ROUND = 1000;

const uuidOf = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
const hex = (i: number, salt: string) => `${salt}${String(i).padStart(63, '0')}`.slice(-64);

/** The i-th key's n-th event: create, renames, attach, regenerate, detach, delete. */
function eventOf(i: number, n: number, at: string): { type: string; data: Record<string, unknown> } {
  const base = { keyUuid: uuidOf(i), teamId: `team-${i % 100}` };
  switch (n) {
    case 0:
      return {
        type: 'ModelAccessKeyCreated',
        data: { ...base, createdBy: `user-${i % 1000}`, name: `key-${i}`, models: 'all', vpcUuid: null, batchInferenceEnabled: false,
          description: null, expiresAt: null, secretHash: hex(i, 'a'), secretPrefix: 'mak_aaaaaaaa', createdAt: at },
      };
    case 1:
    case 2:
    case 7:
      return { type: 'ModelAccessKeyRenamed', data: { ...base, name: `key-${i}-${n}`, renamedAt: at } };
    case 3:
    case 4:
      return { type: 'ModelAccessKeyDeploymentAttached', data: { ...base, deploymentName: n === 3 ? 'dep-a' : 'dep-b', attachedAt: at } };
    case 5:
      return {
        type: 'ModelAccessKeySecretRegenerated',
        data: { ...base, revokedSecretHash: hex(i, 'a'), secretHash: hex(i, 'b'), secretPrefix: 'mak_bbbbbbbb', regeneratedAt: at },
      };
    case 6:
    case 8:
      return { type: 'ModelAccessKeyDeploymentDetached', data: { ...base, deploymentName: n === 6 ? 'dep-a' : 'dep-b', detachedAt: at } };
    default:
      return { type: 'ModelAccessKeyDeleted', data: { ...base, revokedSecretHash: hex(i, 'b'), deletedAt: at } };
  }
}

function seed(file: string, events: number): void {
  new SqliteEventStore(file).close(); // the store's own schema
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const insert = db.prepare(
    'INSERT INTO events (stream_id, revision, type, data, metadata, recorded_at, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const keys = Math.ceil(events / PER_KEY);
  const lastHash = new Map<number, string>();
  const at = '2026-11-22T10:00:00.000Z';
  let written = 0;
  for (let first = 0; first < keys && written < events; first += KEYS_PER_ROUND) {
    db.transaction(() => {
      for (let n = 0; n < PER_KEY; n++) {
        for (let i = first; i < Math.min(first + KEYS_PER_ROUND, keys) && written < events; i++) {
          const event = eventOf(i, n, at);
          const metadata = { actor: { userId: `user-${i % 1000}`, role: 'owner', teamId: `team-${i % 100}` }, requestId: `r-${i}-${n}` };
          const prev = lastHash.get(i) ?? null;
          const hash = eventHash(prev, { type: event.type, data: event.data, metadata, revision: n });
          insert.run(keyStreamId(uuidOf(i)), n, event.type, JSON.stringify(event.data), JSON.stringify(metadata), at, prev, hash);
          lastHash.set(i, hash);
          written++;
        }
      }
    })();
    for (let i = first; i < first + KEYS_PER_ROUND; i++) lastHash.delete(i);
    if (written % 100_000 === 0) process.stderr.write(`seeded ${written} events\n`);
  }
  db.close();
}

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
  seed(file, EVENTS);
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
  console.log(`seeded ${EVENTS} events (${Math.ceil(EVENTS / PER_KEY)} keys) in ${seedSeconds.toFixed(1)} s`);
  console.log(`rebuild of every read model (${classes.map((C) => new C().name).join(', ')}): ${result.events} events in ${seconds.toFixed(1)} s = ${rate.toFixed(0)} events/s (${rows} key rows)`);
  console.log(`baseline: raw scan of the same table (SELECT * ORDER BY position, every row read): ${raw.rate.toFixed(0)} rows/s`);
  console.log(`ratio ${(rate / raw.rate).toFixed(2)}; target >= 150,000 events/s and >= 0.5 of the raw scan: ${rate >= 150_000 && rate / raw.rate >= 0.5 ? 'met' : 'NOT met'}`);
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
