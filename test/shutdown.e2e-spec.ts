import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { service as healthService } from 'grpc-health-check';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Agent, request } from 'undici';
import { GATEWAY_PROTO } from '@lib/contracts';
import { ROOT, ServiceProcess, startService } from './support/service-process';

const KEYS = '/v2/gen-ai/models/api_keys';
const DRAIN_MS = 1500;

interface Outcome {
  readonly sentAt: number;
  readonly kind: 'list' | 'create';
  readonly status?: number;
  readonly body?: any;
  readonly error?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function exitOf(service: ServiceProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const child = service.child;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

describe('graceful shutdown: SIGTERM under load (the started service)', () => {
  let service: ServiceProcess | undefined;

  afterEach(async () => {
    await service?.kill('SIGKILL');
    if (service) fs.rmSync(service.dataDir, { recursive: true, force: true });
    service = undefined;
  });

  it('turns /readyz 503 at once, answers every request sent before the drain ended, ends the SSE stream with shutdown, and exits 0', async () => {
    service = await startService({ env: { SHUTDOWN_DRAIN_MS: String(DRAIN_MS), LOG_LEVEL: 'log' } });
    const { baseUrl } = service;
    const owner = service.token('team-1', 'u1', 'owner');
    const gatewayToken = service.token('platform', 'gw', 'gateway');

    // An open revocation stream, read to its end.
    const sse = await fetch(`${baseUrl}/v1/revocations/stream`, { headers: { authorization: `Bearer ${gatewayToken}` } });
    expect(sse.status).toBe(200);
    const sseText = sse.text();

    // 20 clients on kept-alive connections, each listing and creating in turn until the service is gone.
    const agent = new Agent({ connections: 20, keepAliveTimeout: 60_000, keepAliveMaxTimeout: 60_000 });
    const outcomes: Outcome[] = [];
    let stop = false;
    const client = async (n: number) => {
      for (let i = 0; !stop; i++) {
        const kind = i % 2 === 0 ? 'list' : 'create';
        const sentAt = Date.now();
        try {
          const answer = await request(`${baseUrl}${kind === 'list' ? `${KEYS}?per_page=5` : KEYS}`, {
            dispatcher: agent,
            method: kind === 'list' ? 'GET' : 'POST',
            headers: { authorization: `Bearer ${owner}`, ...(kind === 'create' ? { 'content-type': 'application/json' } : {}) },
            body: kind === 'create' ? JSON.stringify({ name: `key-${n}-${i}` }) : undefined,
          });
          const text = await answer.body.text();
          outcomes.push({ sentAt, kind, status: answer.statusCode, body: text ? JSON.parse(text) : undefined });
        } catch (error) {
          outcomes.push({ sentAt, kind, error: `${(error as Error & { code?: string }).code ?? ''} ${(error as Error).message}` });
          // Refused or reset: the listener is closed, which is what the end of the drain means.
          if (sentAt > killedAt + DRAIN_MS) return;
          await sleep(10);
        }
      }
    };
    let killedAt = Number.POSITIVE_INFINITY;
    const clients = Array.from({ length: 20 }, (_, n) => client(n));
    await sleep(500);

    const exited = exitOf(service);
    killedAt = Date.now();
    service.child.kill('SIGTERM');
    await sleep(50);
    const readyz = await request(`${baseUrl}/readyz`, { reset: true });
    const readyzBody = await readyz.body.json();
    expect({ status: readyz.statusCode, body: readyzBody }).toMatchObject({ status: 503, body: { status: 'draining' } });
    // An error answered while draining is the service's own error shape.
    const unauthenticated = await request(`${baseUrl}${KEYS}`, { reset: true });
    expect(unauthenticated.statusCode).toBe(401);
    expect(await unauthenticated.body.json()).toMatchObject({ id: 'unauthorized', message: expect.any(String), request_id: expect.any(String) });

    const exit = await exited;
    stop = true;
    await Promise.all(clients);
    await agent.close().catch(() => undefined);

    expect(exit).toEqual({ code: 0, signal: null });
    // The service's drain ends DRAIN_MS after it got the signal, so no earlier than this.
    const servedUntil = killedAt + DRAIN_MS;
    const beforeSignal = outcomes.filter((o) => o.sentAt < killedAt);
    const duringDrain = outcomes.filter((o) => o.sentAt >= killedAt && o.sentAt < servedUntil);
    // Enough traffic on both sides of the signal for the test to mean something.
    expect(beforeSignal.length).toBeGreaterThan(50);
    expect(duringDrain.length).toBeGreaterThan(100);
    const notAnswered = [...beforeSignal, ...duringDrain].filter((o) => o.status !== 200);
    expect(notAnswered).toEqual([]);
    for (const o of duringDrain) {
      if (o.kind === 'create') expect(o.body.api_key_info.secret_key).toMatch(/^mak_/);
      else expect(Array.isArray(o.body.api_key_infos)).toBe(true);
    }
    // Whatever was answered after the drain is a normal answer or the service's own error body, never Fastify's.
    for (const o of outcomes.filter((x) => x.status !== undefined && x.status !== 200)) {
      expect(Object.keys(o.body).sort()).toEqual(expect.arrayContaining(['id', 'message', 'request_id']));
    }

    const events = (await sseText).trim().split('\n\n');
    const last = events[events.length - 1];
    expect(last).toMatch(/^event: end\ndata: /);
    expect(JSON.parse(last.split('data: ')[1])).toMatchObject({ reason: 'shutdown' });

    const log = service.output();
    for (const phase of ['SIGTERM: draining', 'drain over', 'closing the HTTP and gRPC servers', 'servers closed', 'stores closed', 'stopped']) {
      expect(log).toContain(phase);
    }
  });

  it('gRPC: grpc.health.v1 says SERVING, then NOT_SERVING from the signal on while calls are still served; the revocation stream ends after a last heartbeat; reflection lists the services', async () => {
    service = await startService({ env: { SHUTDOWN_DRAIN_MS: String(DRAIN_MS) } });
    const address = service.grpcAddress;
    const gatewayToken = service.token('platform', 'gw', 'gateway');
    const Health = grpc.makeClientConstructor(healthService as unknown as grpc.ServiceDefinition, 'grpc.health.v1.Health');
    const health = new Health(address, grpc.credentials.createInsecure()) as grpc.Client & Record<string, any>;
    const check = (name = '') =>
      new Promise<string>((resolve, reject) =>
        health.Check({ service: name }, (error: grpc.ServiceError | null, answer: { status: string }) => (error ? reject(error) : resolve(answer.status))),
      );

    // The status follows /readyz, polled once a second: SERVING soon after start.
    const deadline = Date.now() + 5000;
    while ((await check()) !== 'SERVING' && Date.now() < deadline) await sleep(100);
    expect(await check()).toBe('SERVING');
    expect(await check('modelkeys.v1.ModelAccessKeys')).toBe('SERVING');
    expect(await check('modelkeys.v1.Gateway')).toBe('SERVING');

    // Server reflection (what grpcurl uses): list the services.
    const reflectionDefinition = protoLoader.loadSync(path.join(ROOT, 'node_modules/@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto'), {
      keepCase: true,
      defaults: true,
      oneofs: true,
    });
    const reflectionPkg = grpc.loadPackageDefinition(reflectionDefinition) as any;
    const reflection = new reflectionPkg.grpc.reflection.v1.ServerReflection(address, grpc.credentials.createInsecure());
    const services = await new Promise<string[]>((resolve, reject) => {
      const call = reflection.ServerReflectionInfo();
      call.on('data', (answer: any) => {
        resolve(answer.list_services_response.service.map((s: { name: string }) => s.name));
        call.end();
      });
      call.on('error', reject);
      call.write({ list_services: '*' });
    });
    expect(services).toEqual(expect.arrayContaining(['modelkeys.v1.ModelAccessKeys', 'modelkeys.v1.Gateway', 'grpc.health.v1.Health']));
    reflection.close();

    // An open WatchRevocations stream, read to its end.
    const gatewayPkg = grpc.loadPackageDefinition(protoLoader.loadSync(GATEWAY_PROTO, { keepCase: true, longs: String, defaults: false, oneofs: true })) as any;
    const gateway = new gatewayPkg.modelkeys.v1.Gateway(address, grpc.credentials.createInsecure());
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${gatewayToken}`);
    const messages: any[] = [];
    const stream = gateway.WatchRevocations({ after: '0' }, metadata);
    const streamEnd = new Promise<grpc.StatusObject>((resolve) => {
      stream.on('data', (m: any) => messages.push(m));
      stream.on('error', () => undefined);
      stream.on('status', resolve);
    });
    while (messages.length === 0) await sleep(20);

    const exited = exitOf(service);
    service.child.kill('SIGTERM');
    await sleep(100);
    expect(await check()).toBe('NOT_SERVING');
    // Still served while draining: a verification answers as usual.
    const verified = await new Promise<any>((resolve, reject) =>
      gateway.VerifyKey({ key: 'mak_not-a-key' }, metadata, (error: grpc.ServiceError | null, answer: any) => (error ? reject(error) : resolve(answer))),
    );
    expect(verified.valid).toBe(false);

    const status = await streamEnd;
    expect(status.code).toBe(grpc.status.OK);
    expect(messages.length).toBeGreaterThanOrEqual(2);
    expect(messages[messages.length - 1].heartbeat).toBeDefined();
    health.close();
    gateway.close();
    expect(await exited).toEqual({ code: 0, signal: null });
  });
});
