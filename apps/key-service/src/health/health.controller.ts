import { Controller, Get, Inject, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { EVENT_STORE, EventStore } from '@lib/event-store';
import { ProjectionRunner } from '../keys/projections/projection-runner';

@ApiTags('health')
@Controller()
export class HealthController {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly projections: ProjectionRunner,
  ) {}

  @Get('healthz')
  @ApiOperation({ summary: 'The process is up' })
  healthz() {
    return { status: 'ok' };
  }

  @Get('readyz')
  @ApiOperation({ summary: 'The store answers and every read model has caught up with it (503 otherwise)' })
  async readyz(@Res({ passthrough: true }) reply: FastifyReply) {
    try {
      const head = await this.store.headPosition();
      const checkpoint = this.projections.checkpoint;
      const ready = checkpoint >= head;
      void reply.status(ready ? 200 : 503);
      return { status: ready ? 'ready' : 'catching_up', store_position: head, projection_checkpoint: checkpoint };
    } catch (error) {
      void reply.status(503);
      return { status: 'store_unavailable', message: (error as Error).message };
    }
  }
}
