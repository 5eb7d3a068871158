import { Client } from 'pg';
import { freshDatabase, query } from '../../../test/support/postgres';
import { ConcurrencyError } from './concurrency.error';
import { ChainBreak, ChainVerifier, eventHash } from './event-hash';
import { eventStoreContract } from './event-store.contract';
import { EventFollower } from './event-follower';
import { chainEvents } from './group-commit';
import { StoredEvent } from './event-store.port';
import { PostgresEventStore } from './postgres.event-store';
import { EventStoreUnavailableError } from './store-unavailable.error';

let url: string;
beforeEach(async () => {
  url = await freshDatabase();
});

eventStoreContract('PostgreSQL', {
  open: () => PostgresEventStore.connect(url),
  reopen: () => PostgresEventStore.connect(url),
});

describe('PostgreSQL event store', () => {
  it('never lets a follower skip an event that commits late: positions become visible in order', async () => {
    const writers = await Promise.all(Array.from({ length: 4 }, () => PostgresEventStore.connect(url)));
    const reader = await PostgresEventStore.connect(url);
    const seen: number[] = [];
    const follower = new EventFollower(
      reader,
      async (events: StoredEvent[]) => {
        seen.push(...events.map((e) => e.position));
        return events[events.length - 1].position;
      },
      { pollIntervalMs: 5, batchSize: 50 },
    );
    follower.start(0);
    // Four pools append at once, with no pause between: a reader that saw a later position before an
    // earlier one committed would leave a hole in what it saw.
    await Promise.all(
      writers.map(async (writer, w) => {
        for (let i = 0; i < 100; i++) await writer.appendToStream(`s-${w}-${i % 10}`, [{ type: 'E', data: { w, i } }], 'any');
      }),
    );
    const head = await reader.headPosition();
    for (let waited = 0; seen[seen.length - 1] !== head && waited < 10_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
    await follower.stop();
    const all = (await reader.readAll(0, { limit: 10_000 })).map((e) => e.position);
    expect(all).toHaveLength(400);
    expect(seen).toEqual(all);
    await Promise.all([...writers, reader].map((s) => s.close()));
  });

  it('commits concurrent appends together, failing only the one whose expected revision is stale', async () => {
    const store = await PostgresEventStore.connect(url);
    await store.appendToStream('k', [{ type: 'A', data: {} }], 'no_stream');
    const results = await Promise.allSettled([
      store.appendToStream('x', [{ type: 'X', data: {} }], 'no_stream'),
      store.appendToStream('k', [{ type: 'B', data: {} }], 0),
      store.appendToStream('k', [{ type: 'C', data: {} }], 0),
      store.appendToStream('y', [{ type: 'Y', data: {} }, { type: 'Y2', data: {} }], 'no_stream'),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((results[2] as PromiseRejectedResult).reason).toBeInstanceOf(ConcurrencyError);
    const all = await store.readAll(0);
    expect(all.map((e) => e.type)).toEqual(['A', 'X', 'B', 'Y', 'Y2']);
    expect((results[3] as PromiseFulfilledResult<{ lastPosition: number }>).value.lastPosition).toBe(all[4].position);
    const verifier = new ChainVerifier();
    expect(all.map((e) => verifier.check(e))).toEqual([null, null, null, null, null]);
    await store.close();
  });

  it('wakes followers in another process through LISTEN/NOTIFY', async () => {
    const writer = await PostgresEventStore.connect(url);
    const reader = await PostgresEventStore.connect(url);
    const woken: number[] = [];
    reader.onAppended((position) => woken.push(position));
    const { lastPosition } = await writer.appendToStream('n-1', [{ type: 'A', data: {} }], 'no_stream');
    for (let waited = 0; !woken.includes(lastPosition) && waited < 5000; waited += 10) await new Promise((r) => setTimeout(r, 10));
    expect(woken).toContain(lastPosition);
    await writer.close();
    await reader.close();
  });

  it('50 appenders over separate connections: one wins the revision, the rest get the port’s ConcurrencyError', async () => {
    const stores = await Promise.all(Array.from({ length: 5 }, () => PostgresEventStore.connect(url)));
    await stores[0].appendToStream('hot', [{ type: 'Start', data: {} }], 'no_stream');
    const outcomes = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => stores[i % 5].appendToStream('hot', [{ type: 'W', data: { i } }], 0)));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(ConcurrencyError);
    await Promise.all(stores.map((s) => s.close()));
  });

  it('an unreachable server is a clear error naming the variable and the address, without the password', async () => {
    const attempt = PostgresEventStore.connect('postgres://someone:hunter2@127.0.0.1:9/nowhere');
    await expect(attempt).rejects.toBeInstanceOf(EventStoreUnavailableError);
    await expect(attempt).rejects.toThrow(/EVENT_STORE=postgres: cannot use PostgreSQL at DATABASE_URL=postgres:\/\/someone:\*\*\*@127\.0\.0\.1:9\/nowhere: ECONNREFUSED/);
  });
});

describe('PostgreSQL stream heads', () => {
  interface PlanNode {
    'Node Type': string;
    'Index Name'?: string;
    'Scan Direction'?: string;
    'Actual Rows'?: number;
    Plans?: PlanNode[];
  }
  const nodes = (node: PlanNode, parent: PlanNode | null = null): Array<{ node: PlanNode; parent: PlanNode | null }> => [
    { node, parent },
    ...(node.Plans ?? []).flatMap((child) => nodes(child, node)),
  ];

  it('finds the head of a 2,000-event stream by reading one index entry backwards under a LIMIT, with no sort', async () => {
    const store = await PostgresEventStore.connect(url);
    for (let i = 0; i < 20; i++) {
      await store.appendToStream('long', Array.from({ length: 100 }, (_, n) => ({ type: 'E', data: { n: i * 100 + n } })), i === 0 ? 'no_stream' : i * 100 - 1);
    }
    const [head] = await query<{ revision: number; hash: string }>(url, `SELECT revision, hash FROM events WHERE stream_id = 'long' AND revision = 1999`);
    // The store's own append function, called as the store calls it, with the server explaining every
    // statement inside it (auto_explain, its plans sent back to this client as notices).
    const client = new Client({ connectionString: url });
    await client.connect();
    const plans: Array<{ 'Query Text': string; Plan: PlanNode }> = [];
    client.on('notice', (notice) => {
      const json = notice.message?.slice(notice.message.indexOf('{'));
      if (json) plans.push(JSON.parse(json));
    });
    await client.query(`LOAD 'auto_explain'`);
    await client.query(
      `SET auto_explain.log_min_duration = 0; SET auto_explain.log_analyze = on; SET auto_explain.log_nested_statements = on;
       SET auto_explain.log_format = json; SET auto_explain.log_level = notice`,
    );
    const [event] = chainEvents([{ type: 'E', data: { n: 2000 } }], head.revision, head.hash);
    const result = await client.query(`SELECT * FROM model_keys_append_v1($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`, [
      ['long'], [head.revision], [head.hash], ['long'], [event.revision], [event.type], [event.data], [event.metadata], new Date().toISOString(), [event.prevHash], [event.hash],
    ]);
    await client.end();
    expect(result.rows).toEqual([expect.objectContaining({ stale: false, stream_id: 'long', revision: 2000 })]);

    const lookup = plans.find((plan) => plan['Query Text'].includes('head_stream_ids, head_revisions'));
    expect(lookup).toBeDefined();
    const all = nodes(lookup!.Plan);
    expect(all.map(({ node }) => node['Node Type'])).not.toContain('Sort');
    const scans = all.filter(({ node }) => node['Index Name'] === 'events_stream_id_revision_key');
    expect(scans).toHaveLength(1);
    expect(scans[0].node).toMatchObject({ 'Node Type': 'Index Scan', 'Scan Direction': 'Backward', 'Actual Rows': 1 });
    expect(scans[0].parent?.['Node Type']).toBe('Limit');
    // The chain still verifies across the event appended outside the store.
    const verifier = new ChainVerifier();
    expect((await store.readStream('long')).map((e) => verifier.check(e)).filter((b) => b !== null)).toEqual([]);
    await store.close();
  });

  it('a head guessed wrong (another process appended) is corrected by the server: no conflict missed, no chain broken', async () => {
    const a = await PostgresEventStore.connect(url);
    const b = await PostgresEventStore.connect(url);
    await a.appendToStream('k', [{ type: 'E0', data: {} }], 'no_stream');
    expect(await b.appendToStream('k', [{ type: 'E1', data: {} }], 0)).toMatchObject({ nextExpectedRevision: 1 });
    // a last saw revision 0; the server answers revision 1, and a chains to it.
    expect(await a.appendToStream('k', [{ type: 'E2', data: {} }], 1)).toMatchObject({ nextExpectedRevision: 2 });
    await expect(a.appendToStream('k', [{ type: 'X', data: {} }], 1)).rejects.toBeInstanceOf(ConcurrencyError);
    // b last saw revision 1, which is what it expects: the server's answer (revision 2) makes it a conflict.
    await expect(b.appendToStream('k', [{ type: 'X', data: {} }], 1)).rejects.toBeInstanceOf(ConcurrencyError);
    const events = await a.readAll(0);
    expect(events.map((e) => [e.type, e.revision])).toEqual([
      ['E0', 0],
      ['E1', 1],
      ['E2', 2],
    ]);
    const verifier = new ChainVerifier();
    expect(events.map((e) => verifier.check(e))).toEqual([null, null, null]);
    await a.close();
    await b.close();
  });

  it('four processes appending to one stream at once: every event kept, revisions contiguous, the chain whole', async () => {
    const stores = await Promise.all(Array.from({ length: 4 }, () => PostgresEventStore.connect(url)));
    await Promise.all(
      stores.map(async (store, s) => {
        for (let i = 0; i < 30; i++) await store.appendToStream('shared', [{ type: 'E', data: { s, i } }], 'any');
      }),
    );
    const events = await stores[0].readStream('shared');
    expect(events.map((e) => e.revision)).toEqual(Array.from({ length: 120 }, (_, i) => i));
    const verifier = new ChainVerifier();
    expect(events.map((e) => verifier.check(e)).filter((b) => b !== null)).toEqual([]);
    await Promise.all(stores.map((s) => s.close()));
  });
});

describe('PostgreSQL tamper evidence', () => {
  const seed = async () => {
    const store = await PostgresEventStore.connect(url);
    await store.appendToStream('k-1', [{ type: 'Created', data: { name: 'a' } }], 'no_stream');
    await store.appendToStream('k-1', [{ type: 'Renamed', data: { name: 'b' } }], 0);
    await store.appendToStream('k-1', [{ type: 'Renamed', data: { name: 'c' } }], 1);
    return store;
  };
  const firstBreak = async (store: PostgresEventStore): Promise<ChainBreak | null> => {
    const verifier = new ChainVerifier();
    for (const event of await store.readAll(0)) {
      const broken = verifier.check(event);
      if (broken) return broken;
    }
    return null;
  };

  it('a row edited in the table breaks the chain at that event', async () => {
    const store = await seed();
    expect(await firstBreak(store)).toBeNull();
    await query(url, `UPDATE events SET data = '{"name":"evil"}' WHERE stream_id = 'k-1' AND revision = 1`);
    expect(await firstBreak(store)).toMatchObject({ streamId: 'k-1', revision: 1, field: 'hash' });
    await store.close();
  });

  it('an edit whose hash was recomputed too is caught at the next event', async () => {
    const store = await seed();
    const [row] = await query<{ prev_hash: string; metadata: unknown }>(url, `SELECT prev_hash, metadata FROM events WHERE stream_id = 'k-1' AND revision = 1`);
    const forged = eventHash(row.prev_hash, { type: 'Renamed', data: { name: 'evil' }, metadata: row.metadata, revision: 1 });
    await query(url, `UPDATE events SET data = '{"name":"evil"}', hash = $1 WHERE stream_id = 'k-1' AND revision = 1`, [forged]);
    expect(await firstBreak(store)).toMatchObject({ streamId: 'k-1', revision: 2, field: 'prevHash', expected: forged });
    await store.close();
  });

  it('a deleted row is caught as a gap in the revisions', async () => {
    const store = await seed();
    await query(url, `DELETE FROM events WHERE stream_id = 'k-1' AND revision = 1`);
    expect(await firstBreak(store)).toMatchObject({ streamId: 'k-1', revision: 2, field: 'revision', expected: '1' });
    await store.close();
  });
});
