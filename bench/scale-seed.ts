/**
 * The seed of `npm run bench:scale`, run as its own process: `node dist/bench/scale-seed.js FILE KEYS`
 * writes KEYS live model-access keys, one event each, into a fresh SQLite event store at FILE (hash-
 * chained as the store writes them), then syncs the file. The keys are spread over 100 teams of ten
 * users each, with mixed scopes (see keyOf). Every secret is derived from the key's index (secretOf),
 * so the benchmark can verify with real secrets without the seed handing them over.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { SqliteEventStore, eventHash } from '@lib/event-store';
import { KEY_STREAM_PREFIX } from '../apps/key-service/src/keys/domain/model-access-key.events';

export const SCALE_TEAMS = 100;
export const SCALE_USERS_PER_TEAM = 10;
const MODELS = ['llama3.3-70b-instruct', 'mistral-nemo-instruct-2407', 'deepseek-r1-distill-llama-70b', 'openai-gpt-oss-120b', 'anthropic-claude-3.5-haiku'];
const SEEDED_AT = '2026-11-22T10:00:00.000Z';
/** Far enough ahead that no seeded key expires while the benchmark runs: the expiry scheduler stays idle. */
const EXPIRES_AT = '2031-01-01T00:00:00.000Z';
const ROWS_PER_TRANSACTION = 10_000;

export const scaleKeyUuid = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
export const scaleTeam = (i: number) => `team-${i % SCALE_TEAMS}`;
/** The key's creator: one of its team's users. */
export const scaleUser = (i: number) => `user-${i % SCALE_TEAMS}-${Math.floor(i / SCALE_TEAMS) % SCALE_USERS_PER_TEAM}`;
/** The i-th key's secret, shaped as the service's (mak_ and 43 base64url characters). */
export const scaleSecretOf = (i: number) => `mak_${createHash('sha256').update(`bench-scale-${i}`).digest('base64url')}`;
export const scaleVpcOf = (i: number) => `10000000-0000-4000-8000-${String(i % 50).padStart(12, '0')}`;

/**
 * The scope mix: every 10th key legacy (all models, no VPC); of the others, a third all models (half of
 * those with batch inference), two thirds one to three named models; every 5th key bound to a VPC;
 * every 7th with an expiry.
 */
export function scaleKeyOf(i: number): { models: 'all' | string[]; vpcUuid: string | null; batch: boolean; legacy: boolean; expiresAt: string | null } {
  const legacy = i % 10 === 0;
  const all = legacy || i % 3 === 0;
  return {
    legacy,
    models: all ? 'all' : MODELS.slice(i % MODELS.length, (i % MODELS.length) + 1 + (i % 3)),
    batch: !legacy && all && i % 2 === 0,
    vpcUuid: !legacy && i % 5 === 0 ? scaleVpcOf(i) : null,
    expiresAt: !legacy && i % 7 === 0 ? EXPIRES_AT : null,
  };
}

function eventOf(i: number): { type: string; data: Record<string, unknown> } {
  const secret = scaleSecretOf(i);
  const secretHash = createHash('sha256').update(secret).digest('hex');
  const key = scaleKeyOf(i);
  const base = { keyUuid: scaleKeyUuid(i), teamId: scaleTeam(i), createdBy: scaleUser(i), name: `key-${i}` };
  if (key.legacy) {
    return {
      type: 'LegacyModelAccessKeyImported',
      data: { ...base, secretHash, secretPrefix: secret.slice(0, 12), createdAt: '2024-01-01T00:00:00.000Z', importedAt: SEEDED_AT },
    };
  }
  return {
    type: 'ModelAccessKeyCreated',
    data: {
      ...base, models: key.models, vpcUuid: key.vpcUuid, batchInferenceEnabled: key.batch, description: i % 4 === 0 ? `seeded key ${i}` : null,
      expiresAt: key.expiresAt, secretHash, secretPrefix: secret.slice(0, 12), createdAt: SEEDED_AT,
    },
  };
}

function seed(file: string, keys: number): void {
  new SqliteEventStore(file).close(); // the store's own schema
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const insert = db.prepare(
    'INSERT INTO events (stream_id, revision, type, data, metadata, recorded_at, prev_hash, hash) VALUES (?, 0, ?, ?, ?, ?, NULL, ?)',
  );
  for (let first = 0; first < keys; first += ROWS_PER_TRANSACTION) {
    db.transaction(() => {
      for (let i = first; i < Math.min(first + ROWS_PER_TRANSACTION, keys); i++) {
        const event = eventOf(i);
        const actor = { userId: scaleUser(i), role: 'owner', teamId: scaleTeam(i) };
        const metadata = { actor, requestId: `seed-${i}`, correlationId: `seed-${i}`, causationId: null, sourceIp: null, userAgent: null };
        const hash = eventHash(null, { type: event.type, data: event.data, metadata, revision: 0 });
        insert.run(`${KEY_STREAM_PREFIX}${scaleKeyUuid(i)}`, event.type, JSON.stringify(event.data), JSON.stringify(metadata), SEEDED_AT, hash);
      }
    })();
    if ((first + ROWS_PER_TRANSACTION) % 100_000 === 0) process.stderr.write(`seeded ${first + ROWS_PER_TRANSACTION} keys\n`);
  }
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

function main(): void {
  const [file, keys] = [process.argv[2], Number(process.argv[3])];
  if (!file || !Number.isInteger(keys) || keys < 1) {
    console.error('usage: node dist/bench/scale-seed.js FILE KEYS');
    process.exit(2);
  }
  seed(file, keys);
  const fd = fs.openSync(file, 'r+');
  fs.fsyncSync(fd);
  fs.closeSync(fd);
}

if (require.main === module) main();
