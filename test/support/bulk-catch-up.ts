import type Database from 'better-sqlite3';
import { EventStore, NewEvent } from '@lib/event-store';
import { keyStreamId } from '../../apps/key-service/src/keys/domain/model-access-key.events';
import { PROJECTIONS, Projection } from '../../apps/key-service/src/read-side/projection';
import { READ_MODEL_DB } from '../../apps/key-service/src/read-side/read-model.database';
import { TestApp } from './test-app';

/** Every row of every table of every view, and every checkpoint, in a stable order. */
export function snapshot(t: TestApp): { tables: Record<string, unknown[]>; checkpoints: unknown[] } {
  const db = t.app.get<Database.Database>(READ_MODEL_DB);
  const tables: Record<string, unknown[]> = {};
  for (const projection of t.app.get<Projection[]>(PROJECTIONS)) {
    for (const table of projection.tables) tables[table] = db.prepare(`SELECT * FROM ${table} ORDER BY 1, 2`).all();
  }
  return { tables, checkpoints: db.prepare('SELECT name, position FROM projection_checkpoints ORDER BY name').all() };
}

const uuidOf = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
const hex = (i: number, salt: string) => `${salt}${String(i).padStart(63, '0')}`.slice(-64);
const metadata = (i: number) => ({ actor: { userId: `u${i % 7}`, role: 'owner', teamId: `team-${i % 3}` }, requestId: `r-${i}`, correlationId: `r-${i}`, causationId: null, sourceIp: null, userAgent: null });

/** The i-th key's events, written straight to the log: created, then renamed, regenerated or deleted by turns. */
function keyEvents(i: number): NewEvent[] {
  const base = { keyUuid: uuidOf(i), teamId: `team-${i % 3}` };
  const at = '2026-11-30T10:00:00.000Z';
  const events: NewEvent[] = [
    {
      type: 'ModelAccessKeyCreated',
      data: { ...base, createdBy: `u${i % 7}`, name: `key-${i}`, models: i % 2 === 0 ? 'all' : ['m-1'], vpcUuid: null, batchInferenceEnabled: false,
        description: null, expiresAt: i % 4 === 0 ? '2031-01-01T00:00:00.000Z' : null, secretHash: hex(i, 'a'), secretPrefix: 'mak_aaaaaaaa', createdAt: at },
      metadata: metadata(i),
    },
  ];
  if (i % 2 === 1) events.push({ type: 'ModelAccessKeyRenamed', data: { ...base, name: `key-${i}-renamed`, renamedAt: at }, metadata: metadata(i) });
  if (i % 3 === 0) {
    events.push({ type: 'ModelAccessKeySecretRegenerated', data: { ...base, revokedSecretHash: hex(i, 'a'), secretHash: hex(i, 'b'), secretPrefix: 'mak_bbbbbbbb', regeneratedAt: at }, metadata: metadata(i) });
  }
  if (i % 5 === 0) events.push({ type: 'ModelAccessKeyDeleted', data: { ...base, revokedSecretHash: hex(i, i % 3 === 0 ? 'b' : 'a'), deletedAt: at }, metadata: metadata(i) });
  return events;
}

/** Keys `from` to `to` (exclusive), each stream appended in one call, a hundred calls at a time; the head after. */
export async function appendKeys(store: EventStore, from: number, to: number): Promise<number> {
  for (let first = from; first < to; first += 100) {
    const last = Math.min(first + 100, to);
    await Promise.all(Array.from({ length: last - first }, (_, k) => store.appendToStream(keyStreamId(uuidOf(first + k)), keyEvents(first + k), 'no_stream')));
  }
  return store.headPosition();
}

