/**
 * The rebuild of one round of `npm run bench:replay`, in a process that does nothing else, as
 * `keyctl projections rebuild` runs: `node dist/bench/replay-round.js DIR` rebuilds every read model
 * from DIR/events.db into a fresh read-model file in DIR (aside and swapped in, as the command does)
 * and prints one line of JSON (ReplayRound).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SqliteEventStore } from '@lib/event-store';
import { rebuildAsideAndSwap } from '../apps/key-service/src/read-side/projection-rebuild';
import { openReadModelDatabase } from '../apps/key-service/src/read-side/read-model.database';
import { PROJECTION_CLASSES } from '../apps/key-service/src/read-side/read-models';

export interface ReplayRound {
  readonly events: number;
  readonly seconds: number;
  readonly keyRows: number;
}

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: node dist/bench/replay-round.js DIR');
    process.exit(2);
  }
  // Every round starts from no read models at all; the events file (and its WAL, if any) stays.
  for (const name of fs.readdirSync(dir)) if (!name.startsWith('events.db')) fs.rmSync(path.join(dir, name), { recursive: true });
  const store = new SqliteEventStore(path.join(dir, 'events.db'));
  const db = openReadModelDatabase(dir);
  const started = performance.now();
  const result = await rebuildAsideAndSwap(store, db, {
    aside: PROJECTION_CLASSES.map((Class) => new Class()),
    live: PROJECTION_CLASSES.map((Class) => new Class()),
    progress: (events) => process.stderr.write(`  ${events} events applied\n`),
  });
  const seconds = (performance.now() - started) / 1000;
  const keyRows = db.prepare<[], number>('SELECT COUNT(*) FROM key_views').pluck().get()!;
  db.close();
  await store.close();
  const round: ReplayRound = { events: result.events, seconds, keyRows };
  console.log(JSON.stringify(round));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
