import * as http from 'node:http';
import { FeedListener, Revocation } from '../types';
import { SseFeed } from './sse-feed';

/** A small SSE server on loopback: `script` writes each response; every request is recorded. */
interface SseServer {
  readonly url: string;
  readonly requests: Array<{ readonly path: string; readonly lastEventId: string | undefined; readonly at: number }>;
  close(): Promise<void>;
}

async function sseServer(script: (res: http.ServerResponse, request: number) => unknown): Promise<SseServer> {
  const requests: SseServer['requests'] = [];
  const server = http.createServer((req, res) => {
    requests.push({ path: req.url ?? '', lastEventId: req.headers['last-event-id'] as string | undefined, at: Date.now() });
    void script(res, requests.length);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const open = (res: http.ServerResponse) => res.writeHead(200, { 'content-type': 'text/event-stream' });
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function revocationJson(position: number): string {
  const revocation: Revocation = {
    position,
    key_uuid: `key-${position}`,
    team_id: 'team',
    secret_hashes: [`hash-${position}`],
    reason: 'deleted',
    deployment_name: null,
    occurred_at: '2026-11-30T00:00:00.000Z',
  };
  return JSON.stringify(revocation);
}

/** What a feed reports, in order. */
function recorder() {
  const seen: string[] = [];
  const revocations: Revocation[] = [];
  const beats: Array<{ position: number; head: number; source?: string }> = [];
  const listener: FeedListener = {
    revocation: (revocation) => {
      revocations.push(revocation);
      seen.push(`revocation ${revocation.position}`);
    },
    heartbeat: (position, head, source) => {
      beats.push({ position, head, source });
      seen.push(`heartbeat ${position}`);
    },
    connected: (connected, reason) => seen.push(connected ? 'connected' : `disconnected: ${reason}`),
    tokenRefused: (reason) => seen.push(`refused: ${reason}`),
  };
  return { seen, revocations, beats, listener };
}

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await pause(10);
  }
}

describe('SseFeed reads any spec-conforming SSE framing', () => {
  const servers: SseServer[] = [];
  const feeds: SseFeed[] = [];
  afterEach(async () => {
    await Promise.all(feeds.splice(0).map((feed) => feed.stop()));
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  it('CRLF and CR line ends, comments, multi-line data, id and retry; a CRLF split across chunks is one line end', async () => {
    const [first, second] = [revocationJson(5), revocationJson(6)];
    const split = first.indexOf('"team_id"');
    const server = await sseServer(async (res, request) => {
      open(res);
      if (request > 1) return; // the reconnect: held open, nothing sent
      const chunks = [
        ': revocation feed\r\n\r\n',
        'retry: 250\r\n\r\n',
        // One JSON document over two data lines; the CRLF after the second is cut between two writes.
        `id: 5\r\nevent: revocation\r\ndata: ${first.slice(0, split)}\r\ndata: ${first.slice(split)}\r`,
        '\n\r\n',
        `id: 6\revent: revocation\rdata: ${second}\r\r`,
        ': a comment between events\n\n',
        `event: heartbeat\ndata: {"position":6,"head_position":9,"time":"2026-11-30T00:00:00.000Z"}\n\n`,
        'event: unknown-to-the-client\ndata: ignored\n\n',
      ];
      for (const chunk of chunks) {
        res.write(chunk);
        await pause(15);
      }
      res.end();
    });
    servers.push(server);
    const { seen, revocations, beats, listener } = recorder();
    const feed = new SseFeed({ serviceUrls: [server.url], token: () => 'a-token', minBackoffMs: 10, maxBackoffMs: 100 });
    feeds.push(feed);
    await feed.start(4, listener);
    await until(() => server.requests.length === 2);

    expect(revocations.map((r) => [r.position, r.key_uuid, r.secret_hashes])).toEqual([
      [5, 'key-5', ['hash-5']],
      [6, 'key-6', ['hash-6']],
    ]);
    expect(beats).toEqual([{ position: 6, head: 9, source: server.url }]);
    expect(seen.slice(0, 5)).toEqual(['revocation 5', 'revocation 6', 'connected', 'heartbeat 6', `disconnected: the stream ended`]);
    expect(feed.reconnectFloorMs).toBe(250);
    // The reconnect resumes after the last id, at least the service's retry later (the backoff alone is 10 to 100 ms).
    expect(server.requests[0]).toMatchObject({ path: '/v1/revocations/stream?after=4', lastEventId: undefined });
    expect(server.requests[1]).toMatchObject({ path: '/v1/revocations/stream?after=6', lastEventId: '6' });
    expect(server.requests[1].at - server.requests[0].at).toBeGreaterThanOrEqual(250);
  });

  it('keeps a UTF-8 character whole when the network cuts it between two chunks', async () => {
    const bytes = Buffer.from(`id: 7\nevent: revocation\ndata: ${revocationJson(7).replace('"team"', '"équipe-東京"')}\n\n`);
    const cut = bytes.indexOf(Buffer.from('東')) + 1; // inside the three bytes of 東
    const server = await sseServer(async (res) => {
      open(res);
      res.write(bytes.subarray(0, cut));
      await pause(30);
      res.write(bytes.subarray(cut));
    });
    servers.push(server);
    const { revocations, listener } = recorder();
    const feed = new SseFeed({ serviceUrls: [server.url], token: () => null });
    feeds.push(feed);
    await feed.start(0, listener);
    await until(() => revocations.length === 1);
    expect(revocations[0].team_id).toBe('équipe-東京');
  });

  it('moves to the next URL when its instance dies mid-stream, and resumes there after the last position', async () => {
    const a = await sseServer(async (res, request) => {
      open(res);
      if (request > 1) {
        res.write(`event: heartbeat\ndata: {"position":3,"head_position":3,"time":"2026-11-30T00:00:00.000Z"}\n\n`);
        return;
      }
      res.write(`id: 1\nevent: revocation\ndata: ${revocationJson(1)}\n\n`);
      res.write(`event: heartbeat\ndata: {"position":1,"head_position":1,"time":"2026-11-30T00:00:00.000Z"}\n\n`);
      await pause(50);
      res.socket?.destroy(); // as a kill -9 would: no end event, the connection just goes
    });
    const b = await sseServer(async (res) => {
      open(res);
      res.write(`id: 2\nevent: revocation\ndata: ${revocationJson(2)}\n\n`);
      res.write(`id: 3\nevent: revocation\ndata: ${revocationJson(3)}\n\n`);
      res.write(`event: heartbeat\ndata: {"position":3,"head_position":3,"time":"2026-11-30T00:00:00.000Z"}\n\n`);
      await pause(50);
      // A rolling restart: the service says goodbye, and the feed moves on (round the list, back to a).
      res.end(`event: end\ndata: {"reason":"shutdown","message":"the service is stopping"}\n\n`);
    });
    servers.push(a, b);
    const { revocations, beats, listener, seen } = recorder();
    const feed = new SseFeed({ serviceUrls: [a.url, b.url], token: () => null, minBackoffMs: 10, maxBackoffMs: 100 });
    feeds.push(feed);
    await feed.start(0, listener);
    await until(() => a.requests.length === 2 && beats.length === 3);

    expect(revocations.map((r) => r.position)).toEqual([1, 2, 3]);
    expect(b.requests).toHaveLength(1);
    expect(b.requests[0]).toMatchObject({ path: '/v1/revocations/stream?after=1', lastEventId: '1' });
    expect(a.requests[1]).toMatchObject({ path: '/v1/revocations/stream?after=3', lastEventId: '3' });
    expect(beats.map((beat) => beat.source)).toEqual([a.url, b.url, a.url]);
    expect(seen).toContain(`disconnected: the service at ${b.url} ended the stream: shutdown (the service is stopping)`);
    expect(feed.serviceUrl).toBe(a.url);
  });

  it('moves on when the instance answers 503 or hangs without a byte for idleTimeoutMs', async () => {
    const unready = await sseServer((res) => res.writeHead(503).end('{"message":"not ready"}'));
    const hung = await sseServer((res) => {
      open(res);
      res.write(': revocation feed\n\n'); // then silence, the socket left open: a stopped process
    });
    const live = await sseServer((res) => {
      open(res);
      res.write(`event: heartbeat\ndata: {"position":0,"head_position":0,"time":"2026-11-30T00:00:00.000Z"}\n\n`);
    });
    servers.push(unready, hung, live);
    const { beats, listener, seen } = recorder();
    const feed = new SseFeed({ serviceUrls: [unready.url, hung.url, live.url], token: () => null, minBackoffMs: 10, maxBackoffMs: 100, idleTimeoutMs: 300 });
    feeds.push(feed);
    const started = Date.now();
    await feed.start(0, listener);
    await until(() => beats.length > 0);

    expect(beats[0].source).toBe(live.url);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(seen[0]).toBe(`disconnected: the revocation stream of ${unready.url} answered 503: {"message":"not ready"}`);
    expect(seen[1]).toMatch(/^disconnected: .*[Tt]imeout/);
    expect([unready.requests.length, hung.requests.length, live.requests.length]).toEqual([1, 1, 1]);
  });

  it('stays on its instance when the token is refused: every instance would refuse it', async () => {
    const refusing = await sseServer((res) => res.writeHead(401).end('{"message":"token expired"}'));
    const other = await sseServer((res) => open(res));
    servers.push(refusing, other);
    const { listener, seen } = recorder();
    const feed = new SseFeed({ serviceUrls: [refusing.url, other.url], token: () => 'expired', minBackoffMs: 10, maxBackoffMs: 100 });
    feeds.push(feed);
    await feed.start(0, listener);
    await until(() => refusing.requests.length >= 3);

    expect(other.requests).toHaveLength(0);
    expect(seen.filter((line) => line.startsWith('refused:')).length).toBeGreaterThanOrEqual(2);
  });
});
