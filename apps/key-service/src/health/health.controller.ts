import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Readiness } from './readiness';

class LivenessResponse {
  @ApiProperty({ enum: ['ok'] }) status!: string;
}

class ReadinessResponse {
  @ApiProperty({ enum: ['ready', 'draining', 'catching_up', 'store_cannot_write', 'store_unavailable'] }) status!: string;
  @ApiPropertyOptional({ type: 'integer' }) store_position?: number;
  @ApiPropertyOptional({ type: 'integer' }) projection_checkpoint?: number;
  @ApiPropertyOptional({ description: 'store_cannot_write: why' }) reason?: string;
  @ApiPropertyOptional({ description: 'store_unavailable: the error; draining: what to do' }) message?: string;
  @ApiPropertyOptional({
    type: [String],
    enum: ['revocation-relay', 'expiry-scheduler', 'data-key-sweep', 'quota-reset-scheduler'],
    description: 'The singleton jobs this instance leads now (each runs on one instance of a fleet; all of them on a single instance)',
  })
  leases?: string[];
}

@ApiTags('health')
@Controller()
export class HealthController {
  constructor(private readonly readiness: Readiness) {}

  @Get('healthz')
  @ApiOperation({ summary: 'The process is up' })
  @ApiOkResponse({ type: LivenessResponse })
  healthz() {
    return { status: 'ok' };
  }

  @Get('readyz')
  @ApiOperation({ summary: 'The store answers and can write, every read model has caught up with it, and the service is not stopping (503 otherwise)' })
  @ApiOkResponse({ type: ReadinessResponse, description: 'Ready' })
  @ApiResponse({ status: 503, type: ReadinessResponse, description: 'Not ready: the status says why' })
  async readyz(@Res({ passthrough: true }) reply: FastifyReply) {
    const report = await this.readiness.check();
    void reply.status(report.status === 'ready' ? 200 : 503);
    return report;
  }
}
