import { Controller } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { GrpcMethod } from '@nestjs/microservices';
import type { Metadata } from '@grpc/grpc-js';
import { validateInput } from '../../common/validation';
import { GrpcCall, toGrpcKeyInfo } from '../../grpc/grpc-call';
import { GRPC_SERVICE } from '../shared/key-routes';
import { ListKeysQuery } from './list-keys.query';
import { DEFAULT_PER_PAGE, ListKeysRequest } from './list-keys.request.dto';

@Controller()
export class ListKeysGrpcController {
  constructor(
    private readonly queries: QueryBus,
    private readonly grpc: GrpcCall,
  ) {}

  @GrpcMethod(GRPC_SERVICE, 'ListKeys')
  async listKeys(message: { page?: number; per_page?: number; view?: string }, metadata: Metadata) {
    const actor = await this.grpc.principal(metadata);
    const request = validateInput(ListKeysRequest, {
      page: message.page || undefined,
      per_page: message.per_page || undefined,
      view: message.view,
    });
    const page = request.page ?? 1;
    const perPage = request.per_page ?? DEFAULT_PER_PAGE;
    const { keys, total } = await this.queries.execute(new ListKeysQuery(actor, request.view, page, perPage));
    return { api_key_infos: keys.map((key) => toGrpcKeyInfo(key)), page, pages: Math.max(1, Math.ceil(total / perPage)), total };
  }
}
