import { Controller } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { GrpcMethod } from '@nestjs/microservices';
import type { Metadata, ServerUnaryCall } from '@grpc/grpc-js';
import { GrpcCall, toGrpcKeyInfo } from '../../grpc/grpc-call';
import { assertUuid } from '../shared/key-request.validators';
import { GRPC_SERVICE } from '../shared/key-routes';
import { DeleteKeyCommand } from './delete-key.command';

@Controller()
export class DeleteKeyGrpcController {
  constructor(
    private readonly commands: CommandBus,
    private readonly grpc: GrpcCall,
  ) {}

  @GrpcMethod(GRPC_SERVICE, 'DeleteKey')
  async deleteKey(message: { uuid?: string; confirm_name?: string }, metadata: Metadata, call: ServerUnaryCall<unknown, unknown>) {
    const actor = await this.grpc.principal(metadata);
    const command = new DeleteKeyCommand(actor, assertUuid(message.uuid ?? '', 'uuid'), message.confirm_name ?? null, this.grpc.context(metadata, call));
    return { api_key_info: toGrpcKeyInfo(await this.commands.execute(command)) };
  }
}
