import { Inject, Injectable } from '@nestjs/common';
import { EVENT_STORE, EventStore } from '@lib/event-store';
import { ProjectionRunner } from '../read-side/projection-runner';
import { StorageHealth } from './storage-health';
import { Leadership } from '../fleet/leadership';

export type ReadinessStatus = 'ready' | 'draining' | 'catching_up' | 'store_cannot_write' | 'store_unavailable';

export interface ReadinessReport {
  readonly status: ReadinessStatus;
  readonly store_position?: number;
  readonly projection_checkpoint?: number;
  readonly reason?: string;
  readonly message?: string;
  /** The singleton jobs this instance leads (fleet/leadership.ts); every one of them on a single instance. */
  readonly leases?: readonly string[];
}

/**
 * Whether this instance should get traffic: one answer for HTTP /readyz and gRPC grpc.health.v1.
 * Draining wins over everything: from the shutdown signal on, a load balancer must take the
 * instance out while it still serves what it is sent.
 */
@Injectable()
export class Readiness {
  private drainingSince: number | null = null;
  private readonly listeners: Array<() => void> = [];

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly projections: ProjectionRunner,
    private readonly storage: StorageHealth,
    private readonly leadership: Leadership,
  ) {}

  get draining(): boolean {
    return this.drainingSince !== null;
  }

  /** From now on not ready, for good (a stopping process does not come back). */
  beginDraining(): void {
    if (this.drainingSince !== null) return;
    this.drainingSince = Date.now();
    for (const listener of this.listeners) listener();
  }

  /** Called once when draining begins, so that a transport can say so at once rather than at its next poll. */
  onDraining(listener: () => void): void {
    this.listeners.push(listener);
  }

  async check(): Promise<ReadinessReport> {
    if (this.draining) return { status: 'draining', message: 'the service is stopping: send requests to another instance' };
    try {
      const head = await this.store.headPosition();
      const checkpoint = this.projections.checkpoint;
      const cannotWrite = await this.storage.cannotWrite();
      const leases = this.leadership.leading;
      if (cannotWrite !== null) return { status: 'store_cannot_write', reason: cannotWrite, store_position: head, projection_checkpoint: checkpoint, leases };
      return { status: checkpoint >= head ? 'ready' : 'catching_up', store_position: head, projection_checkpoint: checkpoint, leases };
    } catch (error) {
      return { status: 'store_unavailable', message: (error as Error).message };
    }
  }
}
