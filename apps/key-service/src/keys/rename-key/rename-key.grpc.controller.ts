import { Controller } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { GrpcMethod } from '@nestjs/microservices';
import type { Metadata, ServerUnaryCall } from '@grpc/grpc-js';
import { validateInput } from '../../common/validation';
import { GrpcCall, toGrpcKeyInfo } from '../../grpc/grpc-call';
import { assertUuid } from '../shared/key-request.validators';
import { GRPC_SERVICE } from '../shared/key-routes';
import { RenameKeyCommand } from './rename-key.command';
import { RenameKeyRequest } from './rename-key.request.dto';

@Controller()
export class RenameKeyGrpcController {
  constructor(
    private readonly commands: CommandBus,
    private readonly grpc: GrpcCall,
  ) {}

  @GrpcMethod(GRPC_SERVICE, 'RenameKey')
  async renameKey(message: { uuid?: string; name?: string }, metadata: Metadata, call: ServerUnaryCall<unknown, unknown>) {
    const actor = await this.grpc.principal(metadata);
    const uuid = assertUuid(message.uuid ?? '', 'uuid');
    const request = validateInput(RenameKeyRequest, { name: message.name ?? '' });
    const key = await this.commands.execute(new RenameKeyCommand(actor, uuid, request.name, {}, this.grpc.context(metadata, call)));
    return { api_key_info: toGrpcKeyInfo(key) };
  }
}
