import { Controller, Get, Inject, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { EVENT_STORE, EventStore } from '@lib/event-store';
import { ProjectionRunner } from '../keys/projections/projection-runner';
import { StorageHealth } from './storage-health';

class LivenessResponse {
  @ApiProperty({ enum: ['ok'] }) status!: string;
}

class ReadinessResponse {
  @ApiProperty({ enum: ['ready', 'catching_up', 'store_cannot_write', 'store_unavailable'] }) status!: string;
  @ApiPropertyOptional({ type: 'integer' }) store_position?: number;
  @ApiPropertyOptional({ type: 'integer' }) projection_checkpoint?: number;
  @ApiPropertyOptional({ description: 'store_cannot_write: why' }) reason?: string;
  @ApiPropertyOptional({ description: 'store_unavailable: the error' }) message?: string;
}

@ApiTags('health')
@Controller()
export class HealthController {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly projections: ProjectionRunner,
    private readonly storage: StorageHealth,
  ) {}

  @Get('healthz')
  @ApiOperation({ summary: 'The process is up' })
  @ApiOkResponse({ type: LivenessResponse })
  healthz() {
    return { status: 'ok' };
  }

  @Get('readyz')
  @ApiOperation({ summary: 'The store answers and can write, and every read model has caught up with it (503 otherwise)' })
  @ApiOkResponse({ type: ReadinessResponse, description: 'Ready' })
  @ApiResponse({ status: 503, type: ReadinessResponse, description: 'Not ready: the status says why' })
  async readyz(@Res({ passthrough: true }) reply: FastifyReply) {
    try {
      const head = await this.store.headPosition();
      const checkpoint = this.projections.checkpoint;
      const cannotWrite = await this.storage.cannotWrite();
      if (cannotWrite !== null) {
        void reply.status(503);
        return { status: 'store_cannot_write', reason: cannotWrite, store_position: head, projection_checkpoint: checkpoint };
      }
      const ready = checkpoint >= head;
      void reply.status(ready ? 200 : 503);
      return { status: ready ? 'ready' : 'catching_up', store_position: head, projection_checkpoint: checkpoint };
    } catch (error) {
      void reply.status(503);
      return { status: 'store_unavailable', message: (error as Error).message };
    }
  }
}
