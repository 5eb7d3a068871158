/**
 * One round of bench:store's peer comparison for one store, in a process of its own (node
 * dist/bench/store-peer.js <ours|emmett> <database url> <round|fill|fleet-part> ...). A process of its
 * own because Emmett's driver layer (dumbo) replaces node-postgres's global type parsers (bigint,
 * json), which would change how our store reads if both ran in one process. Prints its figures as one
 * JSON line on stdout.
 */
import { STREAM_DOES_NOT_EXIST } from '@event-driven-io/emmett';
import { getPostgreSQLEventStore, readMessagesBatch } from '@event-driven-io/emmett-postgresql';
import { dumbo } from '@event-driven-io/dumbo';
import { PostgresEventStore } from '@lib/event-store/postgres.event-store';

export const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 2000);
export const CONCURRENT = Number(process.env.BENCH_CONCURRENT ?? 4000);
export const CONCURRENCY = 32;
export const ONE_STREAM = Number(process.env.BENCH_ONE_STREAM ?? 5000);
/** The slices of the one-stream run whose rates show its growth: the first and the last appends. */
export const ONE_STREAM_SLICE = 500;
export const FLEET_PROCESSES = 4;

export type Subject = 'ours' | 'emmett';

export interface RoundFigures {
  sequential: number;
  concurrent: number;
  oneStreamFirst: number;
  oneStreamLast: number;
  oneStream: number;
  read: number;
  readEvents: number;
}

/** What the bench does to a store, in the store's own API. */
interface Peer {
  /** One event to a new stream. */
  appendNew(streamId: string, i: number): Promise<void>;
  /** One event to an existing stream holding `count` events, expecting exactly that. */
  appendExpected(streamId: string, i: number, count: number): Promise<void>;
  /** `count` events to a new stream, in one append. */
  appendMany(streamId: string, count: number): Promise<void>;
  /** Every event in global order, in pages of 5,000; the number read. */
  readAll(): Promise<number>;
  close(): Promise<void>;
}

export const data = (i: number) => ({ keyUuid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, teamId: `team-${i % 100}`, name: `key-${i}`, at: '2026-11-22T10:00:00.000Z' });
const metadata = { actor: { userId: 'u1', role: 'owner', teamId: 'team-1' }, requestId: 'bench' };

async function ours(url: string): Promise<Peer> {
  const store = await PostgresEventStore.connect(url);
  return {
    appendNew: async (streamId, i) => void (await store.appendToStream(streamId, [{ type: 'BenchEvent', data: data(i), metadata }], 'no_stream')),
    appendExpected: async (streamId, i, count) => void (await store.appendToStream(streamId, [{ type: 'BenchEvent', data: data(i), metadata }], count - 1)),
    appendMany: async (streamId, count) =>
      void (await store.appendToStream(streamId, Array.from({ length: count }, (_, i) => ({ type: 'BenchEvent', data: data(i), metadata })), 'no_stream')),
    readAll: async () => {
      let events = 0;
      for (let position = 0; ; ) {
        const page = await store.readAll(position, { limit: 5000 });
        if (page.length === 0) return events;
        events += page.length;
        position = page[page.length - 1].position;
      }
    },
    close: () => store.close(),
  };
}

/** Emmett's PostgreSQL event store as its documentation sets it up: getPostgreSQLEventStore(url). */
async function emmett(url: string): Promise<Peer> {
  const store = getPostgreSQLEventStore(url);
  // The global read: what Emmett's own consumers page with, readMessagesBatch, on a dumbo pool.
  const pool = dumbo({ connectionString: url });
  const event = (i: number) => ({ type: 'BenchEvent', data: data(i), metadata });
  return {
    appendNew: async (streamId, i) => void (await store.appendToStream(streamId, [event(i)], { expectedStreamVersion: STREAM_DOES_NOT_EXIST })),
    // Emmett's stream version counts events (1 after the first), where our revision numbers them from 0.
    appendExpected: async (streamId, i, count) => void (await store.appendToStream(streamId, [event(i)], { expectedStreamVersion: BigInt(count) })),
    appendMany: async (streamId, count) =>
      void (await store.appendToStream(
        streamId,
        Array.from({ length: count }, (_, i) => event(i)),
        { expectedStreamVersion: STREAM_DOES_NOT_EXIST },
      )),
    readAll: async () => {
      let events = 0;
      for (let after = 0n; ; ) {
        const page = await readMessagesBatch(pool.execute, { after, batchSize: 5000 });
        if (page.messages.length === 0) return events;
        events += page.messages.length;
        after = page.messages[page.messages.length - 1].metadata.globalPosition;
      }
    },
    close: async () => {
      await store.close();
      await pool.close();
    },
  };
}

const perSecond = (count: number, started: number) => count / ((performance.now() - started) / 1000);

async function round(peer: Peer, tag: string): Promise<RoundFigures> {
  await peer.appendNew(`warm-${tag}`, 0);

  let started = performance.now();
  for (let i = 0; i < SEQUENTIAL; i++) await peer.appendNew(`seq${tag}-${i}`, i);
  const sequential = perSecond(SEQUENTIAL, started);

  let next = 0;
  started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < CONCURRENT; i = next++) await peer.appendNew(`par${tag}-${i}`, i);
    }),
  );
  const concurrent = perSecond(CONCURRENT, started);

  const stream = `one${tag}-0`;
  await peer.appendNew(stream, 0);
  let sliceStarted = performance.now();
  let oneStreamFirst = 0;
  let oneStreamLast = 0;
  started = performance.now();
  for (let i = 1; i <= ONE_STREAM; i++) {
    await peer.appendExpected(stream, i, i);
    if (i === ONE_STREAM_SLICE) oneStreamFirst = perSecond(ONE_STREAM_SLICE, sliceStarted);
    if (i === ONE_STREAM - ONE_STREAM_SLICE) sliceStarted = performance.now();
  }
  oneStreamLast = perSecond(ONE_STREAM_SLICE, sliceStarted);
  const oneStream = perSecond(ONE_STREAM, started);

  await peer.readAll(); // warm
  started = performance.now();
  const readEvents = await peer.readAll();
  const read = perSecond(readEvents, started);
  return { sequential, concurrent, oneStreamFirst, oneStreamLast, oneStream, read, readEvents };
}

/** Fills the store with `total` events in appends of 100, for the read to have something to read. */
async function fill(peer: Peer, total: number): Promise<void> {
  for (let s = 0; s * 100 < total; s++) await peer.appendMany(`fill-${s}`, Math.min(100, total - s * 100));
}

/**
 * One of FLEET_PROCESSES processes appending at once to the same database, as instances of a fleet
 * do: connects, says "ready", waits for a line on stdin, then runs its share of CONCURRENCY appenders.
 */
async function fleetPart(peer: Peer, tag: string, appends: number): Promise<void> {
  await peer.appendNew(`warm-${tag}`, 0);
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
  process.stdin.destroy();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY / FLEET_PROCESSES }, async () => {
      for (let i = next++; i < appends; i = next++) await peer.appendNew(`fleet${tag}-${i}`, i);
    }),
  );
  process.stdout.write('done\n');
}

async function main(): Promise<void> {
  const [subject, url, mode, tag, count] = process.argv.slice(2);
  const peer = subject === 'ours' ? await ours(url) : subject === 'emmett' ? await emmett(url) : null;
  if (!peer) throw new Error(`usage: store-peer.js <ours|emmett> <url> <round|fill|fleet-part> <tag> [count]`);
  if (mode === 'round') console.log(JSON.stringify(await round(peer, tag)));
  else if (mode === 'fill') await fill(peer, Number(count));
  else if (mode === 'fleet-part') await fleetPart(peer, tag, Number(count));
  await peer.close();
}

if (require.main === module) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
