/**
 * npm run bench:replay — the seed script (replay-seed.ts, a process of its own) writes BENCH_EVENTS
 * (default 1,000,000) model-key events into a fresh SQLite event store. Then BENCH_ROUNDS rounds
 * (default 3): a raw scan of the events table, a rebuild of every read model from the first event in a
 * process of its own (replay-round.ts: aside and swapped in, as `keyctl projections rebuild` does), and
 * a raw scan again. Each round's baseline is the mean of the scans on both sides of its rebuild: this
 * VM's speed drifts within seconds, and a ratio should compare what ran under the same conditions. It
 * prints every round, and judges the target on the medians.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PROJECTION_CLASSES } from '../apps/key-service/src/read-side/read-models';
import type { ReplayRound } from './replay-round';
import { WORK, percentile, rawScanRate } from './support';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);


const median = (values: readonly number[]) => percentile([...values].sort((a, b) => a - b), 50);

function main(): void {
  // An odd count, so that each median is one round's own figure.
  if (!Number.isInteger(ROUNDS) || ROUNDS < 1 || ROUNDS % 2 === 0) throw new Error(`BENCH_ROUNDS must be an odd positive integer, not ${process.env.BENCH_ROUNDS}`);
  const dir = path.join(WORK, 'replay');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'events.db');
  process.stderr.write(`seeding ${EVENTS} events...\n`);
  const seedStarted = performance.now();
  execFileSync(process.execPath, [path.join(__dirname, 'replay-seed.js'), file, String(EVENTS)], { stdio: ['ignore', 'inherit', 'inherit'] });
  const seedSeconds = (performance.now() - seedStarted) / 1000;
  rawScanRate(file); // warms the page cache, as the first round's rebuild will find it

  const rounds: Array<ReplayRound & { rate: number; raw: number; ratio: number }> = [];
  for (let i = 1; i <= ROUNDS; i++) {
    process.stderr.write(`round ${i} of ${ROUNDS}: raw scan, rebuild of every read model, raw scan...\n`);
    const before = rawScanRate(file);
    const output = execFileSync(process.execPath, [path.join(__dirname, 'replay-round.js'), dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    const after = rawScanRate(file);
    const round = JSON.parse(output.toString().trim().split('\n').pop()!) as ReplayRound;
    if (round.events !== EVENTS) throw new Error(`round ${i} rebuilt ${round.events} events, not ${EVENTS}`);
    const rate = round.events / round.seconds;
    const raw = (before + after) / 2;
    rounds.push({ ...round, rate, raw, ratio: rate / raw });
  }
  fs.rmSync(dir, { recursive: true, force: true });

  const views = PROJECTION_CLASSES.map((Class) => new Class().name).join(', ');
  console.log(`bench:replay  ${new Date().toISOString()}  node ${process.version}`);
  console.log(`seeded ${EVENTS} events in ${seedSeconds.toFixed(1)} s (replay-seed.js, its own process)`);
  console.log(`each round: a rebuild of every read model (${views}) in a process of its own, between two raw scans of the same table`);
  console.log(`(SELECT * FROM events ORDER BY position, every row read); the round's baseline is their mean`);
  rounds.forEach((r, i) =>
    console.log(
      `round ${i + 1}: ${r.events} events in ${r.seconds.toFixed(2)} s = ${r.rate.toFixed(0)} events/s (${r.keyRows} key rows); raw scan ${r.raw.toFixed(0)} rows/s; ratio ${r.ratio.toFixed(2)}`,
    ),
  );
  const rate = median(rounds.map((r) => r.rate));
  const ratio = median(rounds.map((r) => r.ratio));
  console.log(`median of ${ROUNDS}: ${rate.toFixed(0)} events/s, ratio ${ratio.toFixed(2)}`);
  console.log(`target >= 150,000 events/s and >= 0.5 of the raw scan: ${rate >= 150_000 && ratio >= 0.5 ? 'met' : 'NOT met'}`);
}

main();
