import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import type { Server, ServerWritableStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, ServingStatus, protoPath as HEALTH_PROTO } from 'grpc-health-check';
import { MODEL_ACCESS_KEYS_PACKAGE } from '@lib/contracts';
import { Readiness } from './readiness';

/** '' is the whole server, by the protocol's convention; then each service the key service serves. */
const HEALTH_SERVICES = ['', `${MODEL_ACCESS_KEYS_PACKAGE}.ModelAccessKeys`, `${MODEL_ACCESS_KEYS_PACKAGE}.Gateway`];

/** How often the status follows /readyz's answer (the storage probe itself runs at most once a second). */
const POLL_MS = 1000;

/**
 * grpc.health.v1.Health (from grpc-health-check) and server reflection (@grpc/reflection) on the
 * service's own grpc-js server. SERVING exactly when /readyz answers 200. Watch calls are tracked so
 * that shutdown can end them after their last message (NOT_SERVING); a graceful gRPC shutdown waits
 * for every open call.
 */
@Injectable()
export class GrpcHealth implements OnApplicationShutdown {
  private readonly logger = new Logger(GrpcHealth.name);
  private readonly health = new HealthImplementation(Object.fromEntries(HEALTH_SERVICES.map((s) => [s, 'NOT_SERVING' as ServingStatus])));
  private readonly watches = new Set<ServerWritableStream<unknown, unknown>>();
  private status: ServingStatus = 'NOT_SERVING';
  private poller: NodeJS.Timeout | null = null;
  private grpcServer: Server | null = null;

  constructor(private readonly readiness: Readiness) {
    readiness.onDraining(() => this.set('NOT_SERVING'));
  }

  /** Nest's GrpcOptions.onLoadPackageDefinition: the loaded package and the grpc-js server, before it binds. */
  addToServer(server: Server, packageDefinition: protoLoader.PackageDefinition): void {
    this.grpcServer = server;
    const watches = this.watches;
    this.health.addToServer({
      addService: (service: Parameters<Server['addService']>[0], implementation: UntypedServiceImplementation) =>
        server.addService(service, {
          ...implementation,
          watch: (call: ServerWritableStream<unknown, unknown>) => {
            watches.add(call);
            call.once('close', () => watches.delete(call));
            call.once('cancelled', () => watches.delete(call));
            (implementation.watch as (call: ServerWritableStream<unknown, unknown>) => void)(call);
          },
        }),
    });
    // Reflection describes the health service too, so that grpcurl finds it without its proto file.
    const health = protoLoader.loadSync(HEALTH_PROTO, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
    new ReflectionService({ ...packageDefinition, ...health }).addToServer(server);
    void this.poll();
  }

  /** The service's grpc-js server, once Nest has created it (null without gRPC). */
  get server(): Server | null {
    return this.grpcServer;
  }

  /** Ends every Watch call (each has been told NOT_SERVING by then), so that the server can close. */
  endWatches(): void {
    this.stopPolling();
    for (const call of this.watches) call.end();
    this.watches.clear();
  }

  onApplicationShutdown(): void {
    this.endWatches();
  }

  private async poll(): Promise<void> {
    const report = await this.readiness.check();
    this.set(report.status === 'ready' && !this.readiness.draining ? 'SERVING' : 'NOT_SERVING');
    if (!this.readiness.draining) {
      this.poller = setTimeout(() => void this.poll(), POLL_MS);
      this.poller.unref();
    }
  }

  private stopPolling(): void {
    if (this.poller) clearTimeout(this.poller);
    this.poller = null;
  }

  private set(status: ServingStatus): void {
    if (status === this.status) return;
    this.status = status;
    this.logger.log(`gRPC health: ${status}`);
    for (const service of HEALTH_SERVICES) this.health.setStatus(service, status);
  }
}
