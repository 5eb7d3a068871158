import { Controller } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { GrpcMethod } from '@nestjs/microservices';
import type { Metadata, ServerUnaryCall } from '@grpc/grpc-js';
import { validateInput } from '../../common/validation';
import { GrpcCall, toGrpcKeyInfo } from '../../grpc/grpc-call';
import { GRPC_SERVICE } from '../shared/key-routes';
import { CreateKeyCommand } from './create-key.command';
import { CreateKeyRequest } from './create-key.request.dto';
import { GrpcLimits, limitsBodyOfGrpc } from '../change-limits/change-limits.grpc.controller';

interface CreateKeyMessage {
  name?: string;
  models?: string[];
  vpc_uuid?: string;
  batch_inference_enabled?: boolean;
  description?: string;
  expires_at?: string;
  idempotency_key?: string;
  limits?: GrpcLimits;
}

@Controller()
export class CreateKeyGrpcController {
  constructor(
    private readonly commands: CommandBus,
    private readonly grpc: GrpcCall,
  ) {}

  @GrpcMethod(GRPC_SERVICE, 'CreateKey')
  async createKey(message: CreateKeyMessage, metadata: Metadata, call: ServerUnaryCall<unknown, unknown>) {
    const actor = await this.grpc.principal(metadata);
    const request = validateInput(CreateKeyRequest, {
      name: message.name ?? '',
      models: message.models && message.models.length > 0 ? message.models : undefined,
      vpc_uuid: message.vpc_uuid,
      batch_inference_enabled: message.batch_inference_enabled,
      description: message.description,
      expires_at: message.expires_at,
      limits: message.limits ? limitsBodyOfGrpc(message.limits) : undefined,
    });
    const { key, secret } = await this.commands.execute(
      new CreateKeyCommand(actor, request, message.idempotency_key ?? null, this.grpc.context(metadata, call)),
    );
    return { api_key_info: toGrpcKeyInfo(key, secret) };
  }
}
