import * as fs from 'node:fs';
import * as net from 'node:net';
import { ServiceProcess, api, startService } from './support/service-process';

const KEYS = '/v2/gen-ai/models/api_keys';
const STALLED = 1000;
const REQUEST_TIMEOUT_MS = 5000;
const HEADERS_TIMEOUT_MS = 1000;

/** A raw connection and what became of it: every byte the server sent, and when it closed. */
interface Probe {
  readonly socket: net.Socket;
  readonly openedAt: number;
  received: string;
  closedAt: number | null;
  closed: Promise<void>;
}

function connect(baseUrl: string, first: string): Promise<Probe> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    let done: () => void = () => undefined;
    const probe: Probe = { socket, openedAt: Date.now(), received: '', closedAt: null, closed: new Promise<void>((r) => (done = r)) };
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (probe.received += chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      probe.closedAt = Date.now();
      done();
    });
    socket.once('error', reject);
    socket.once('connect', () => {
      // The server may close a connection over its cap at once: the write then fails, as it should.
      socket.write(first, () => undefined);
      resolve(probe);
    });
  });
}

/** Headers that promise a body of 200 bytes, and the first 20 of them: then nothing more. */
const stalledCreate = (token: string) =>
  `POST ${KEYS} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\n` +
  `Content-Length: 200\r\n\r\n{"name": "stalled-ke`;

function openFileLimit(): number {
  const line = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'))!;
  const soft = line.slice('Max open files'.length).trim().split(/\s+/)[0];
  return soft === 'unlimited' ? Infinity : Number(soft);
}

async function until(what: string, condition: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('slow and stalled clients (end to end)', () => {
  let service: ServiceProcess | undefined;
  const probes: Probe[] = [];

  beforeAll(() => {
    // This process holds every stalled connection; the service holds the other end of each.
    if (openFileLimit() < STALLED + 500) throw new Error(`raise the open-file limit (ulimit -n) to at least ${STALLED + 500} for this test`);
  });

  afterEach(async () => {
    for (const probe of probes.splice(0)) probe.socket.destroy();
    await service?.kill('SIGKILL');
    if (service) fs.rmSync(service.dataDir, { recursive: true, force: true });
    service = undefined;
  });

  it('1,000 stalled request bodies do not stop a fresh create, and each is answered 408 and closed after HTTP_REQUEST_TIMEOUT_MS', async () => {
    service = await startService({
      env: { HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS), HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS) },
    });
    const token = service.token('team-1', '100', 'owner');
    for (let i = 0; i < STALLED; i += 100) {
      probes.push(...(await Promise.all(Array.from({ length: 100 }, () => connect(service!.baseUrl, stalledCreate(token))))));
    }

    const created = await api(service.baseUrl, 'POST', KEYS, token, { name: 'fresh-key' });
    expect(created.status).toBe(200);
    // The create went through while every stalled request was still held open, unanswered.
    expect(probes.filter((p) => p.closedAt !== null || p.received !== '')).toHaveLength(0);

    await until('every stalled request to be closed', () => probes.every((p) => p.closedAt !== null), REQUEST_TIMEOUT_MS + 10_000);
    for (const probe of probes) {
      expect(probe.received).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
      expect(JSON.parse(probe.received.split('\r\n\r\n')[1])).toMatchObject({ id: 'request_timeout', code: 'REQUEST_TIMEOUT' });
      expect(probe.closedAt! - probe.openedAt).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 100);
    }
    expect((await api(service.baseUrl, 'GET', `${KEYS}/${created.body.api_key_info.uuid}`, token)).status).toBe(200);
    expect(service.child.exitCode).toBeNull();
  });

  it('a client that never finishes its headers is answered 408 after HTTP_HEADERS_TIMEOUT_MS', async () => {
    service = await startService({
      env: { HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS), HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS) },
    });
    const probe = await connect(service.baseUrl, `GET ${KEYS} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer x`);
    probes.push(probe);
    await Promise.race([probe.closed, new Promise((r) => setTimeout(r, HEADERS_TIMEOUT_MS + 3000))]);
    expect(probe.received).toMatch(/^HTTP\/1\.1 408 /);
    expect(probe.closedAt! - probe.openedAt).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 100);
    expect(probe.closedAt! - probe.openedAt).toBeLessThan(REQUEST_TIMEOUT_MS);
  });

  it('connections over HTTP_MAX_CONNECTIONS are closed at once; once the stalled ones time out, creates succeed again', async () => {
    service = await startService({ env: { HTTP_MAX_CONNECTIONS: '20', HTTP_REQUEST_TIMEOUT_MS: '2000', HTTP_HEADERS_TIMEOUT_MS: '1000' } });
    const token = service.token('team-1', '100', 'owner');
    // 25 over a cap of 20 (one of which this process's fetch may hold, kept alive since start-up).
    for (let i = 0; i < 25; i++) probes.push(await connect(service.baseUrl, stalledCreate(token)));
    await new Promise((r) => setTimeout(r, 500));
    const refused = probes.filter((p) => p.closedAt !== null);
    expect(refused.length).toBeGreaterThanOrEqual(5);
    expect(refused.length).toBeLessThanOrEqual(6);
    for (const probe of refused) expect(probe.received).toBe('');

    await until('the stalled requests to be closed', () => probes.every((p) => p.closedAt !== null), 2000 + 5000);
    expect(probes.filter((p) => p.received.startsWith('HTTP/1.1 408 '))).toHaveLength(25 - refused.length);
    expect((await api(service.baseUrl, 'POST', KEYS, token, { name: 'after-the-stall' })).status).toBe(200);
  });
});
