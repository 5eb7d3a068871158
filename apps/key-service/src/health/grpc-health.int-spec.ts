import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { GrpcHealth } from './grpc-health';
import { Readiness, ReadinessStatus } from './readiness';

/** Readiness as /readyz would report it, set by the test. */
class FakeReadiness {
  status: ReadinessStatus = 'ready';
  draining = false;
  private readonly listeners: Array<() => void> = [];
  onDraining(listener: () => void) {
    this.listeners.push(listener);
  }
  beginDraining() {
    this.draining = true;
    this.status = 'draining';
    for (const listener of this.listeners) listener();
  }
  async check() {
    return { status: this.status };
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('gRPC health (grpc.health.v1 on a real grpc-js server) follows readiness', () => {
  let server: grpc.Server;
  let health: GrpcHealth;
  let readiness: FakeReadiness;
  let client: grpc.Client & Record<string, any>;

  beforeEach(async () => {
    readiness = new FakeReadiness();
    health = new GrpcHealth(readiness as unknown as Readiness);
    server = new grpc.Server();
    health.addToServer(server, {});
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
    );
    const Health = grpc.makeClientConstructor(healthService as unknown as grpc.ServiceDefinition, 'grpc.health.v1.Health');
    client = new Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as grpc.Client & Record<string, any>;
  });
  afterEach(() => {
    health.endWatches();
    client.close();
    server.forceShutdown();
  });

  const check = (name = '') =>
    new Promise<string>((resolve, reject) =>
      client.Check({ service: name }, (error: grpc.ServiceError | null, answer: { status: string }) => (error ? reject(error) : resolve(answer.status))),
    );
  const eventually = async (expected: string) => {
    const deadline = Date.now() + 3000;
    while ((await check()) !== expected && Date.now() < deadline) await sleep(50);
    return check();
  };

  it('is NOT_SERVING while the store cannot write or the views catch up, SERVING again when ready', async () => {
    expect(await eventually('SERVING')).toBe('SERVING');
    readiness.status = 'store_cannot_write';
    expect(await eventually('NOT_SERVING')).toBe('NOT_SERVING');
    expect(await check('modelkeys.v1.ModelAccessKeys')).toBe('NOT_SERVING');
    readiness.status = 'catching_up';
    await sleep(1200);
    expect(await check()).toBe('NOT_SERVING');
    readiness.status = 'ready';
    expect(await eventually('SERVING')).toBe('SERVING');
  });

  it('turns NOT_SERVING the moment draining begins, and a Watch call ends after saying so', async () => {
    expect(await eventually('SERVING')).toBe('SERVING');
    const seen: string[] = [];
    const watch = client.Watch({ service: '' });
    const ended = new Promise<grpc.StatusObject>((resolve) => {
      watch.on('data', (answer: { status: string }) => seen.push(answer.status));
      watch.on('error', () => undefined);
      watch.on('status', resolve);
    });
    while (seen.length === 0) await sleep(10);
    readiness.beginDraining();
    expect(await check()).toBe('NOT_SERVING');
    while (seen[seen.length - 1] !== 'NOT_SERVING') await sleep(10);
    health.endWatches();
    expect((await ended).code).toBe(grpc.status.OK);
    expect(seen).toEqual(['SERVING', 'NOT_SERVING']);
  });

  it('an unknown service is NOT_FOUND, as the protocol says', async () => {
    await expect(check('no.such.Service')).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
  });
});
