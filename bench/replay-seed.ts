/**
 * The seed of `npm run bench:replay`, run as its own process: `node dist/bench/replay-seed.js FILE EVENTS`
 * writes EVENTS model-key events into a fresh SQLite event store at FILE (ten events per key, keys
 * interleaved a thousand at a time, hash-chained as the store writes them), then syncs the file, so
 * that the benchmark measures the rebuild in a process of its own, on events already on disk.
 */
import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import { SqliteEventStore, eventHash } from '@lib/event-store';
import { keyStreamId } from '../apps/key-service/src/keys/domain/model-access-key.events';

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

function main(): void {
  const [file, events] = [process.argv[2], Number(process.argv[3])];
  if (!file || !Number.isInteger(events) || events < 1) {
    console.error('usage: node dist/bench/replay-seed.js FILE EVENTS');
    process.exit(2);
  }
  seed(file, events);
  const fd = fs.openSync(file, 'r+');
  fs.fsyncSync(fd);
  fs.closeSync(fd);
}

main();
