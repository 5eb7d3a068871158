import { Controller } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { GrpcMethod } from '@nestjs/microservices';
import type { Metadata } from '@grpc/grpc-js';
import { GrpcCall, toGrpcKeyInfo } from '../../grpc/grpc-call';
import { assertUuid } from '../shared/key-request.validators';
import { GRPC_SERVICE } from '../shared/key-routes';
import { GetKeyQuery } from './get-key.query';

@Controller()
export class GetKeyGrpcController {
  constructor(
    private readonly queries: QueryBus,
    private readonly grpc: GrpcCall,
  ) {}

  @GrpcMethod(GRPC_SERVICE, 'GetKey')
  async getKey(message: { uuid?: string }, metadata: Metadata) {
    const actor = await this.grpc.principal(metadata);
    const key = await this.queries.execute(new GetKeyQuery(actor, assertUuid(message.uuid ?? '', 'uuid')));
    return { api_key_info: toGrpcKeyInfo(key) };
  }
}
