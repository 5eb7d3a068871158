import { Controller } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { GrpcMethod } from '@nestjs/microservices';
import type { Metadata, ServerUnaryCall } from '@grpc/grpc-js';
import { GrpcCall, toGrpcKeyInfo } from '../../grpc/grpc-call';
import { assertUuid } from '../shared/key-request.validators';
import { GRPC_SERVICE } from '../shared/key-routes';
import { RegenerateKeyCommand } from './regenerate-key.command';

@Controller()
export class RegenerateKeyGrpcController {
  constructor(
    private readonly commands: CommandBus,
    private readonly grpc: GrpcCall,
  ) {}

  @GrpcMethod(GRPC_SERVICE, 'RegenerateKey')
  async regenerateKey(
    message: { uuid?: string; confirm_name?: string; idempotency_key?: string; grace_period_seconds?: number },
    metadata: Metadata,
    call: ServerUnaryCall<unknown, unknown>,
  ) {
    const actor = await this.grpc.principal(metadata);
    const command = new RegenerateKeyCommand(
      actor,
      assertUuid(message.uuid ?? '', 'uuid'),
      message.confirm_name ?? null,
      message.idempotency_key ?? null,
      this.grpc.context(metadata, call),
      message.grace_period_seconds ?? 0,
    );
    const { key, secret } = await this.commands.execute(command);
    return { api_key_info: toGrpcKeyInfo(key, secret) };
  }
}
