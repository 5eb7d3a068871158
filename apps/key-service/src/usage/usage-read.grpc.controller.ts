import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import type { Metadata } from '@grpc/grpc-js';
import { validateInput } from '../common/validation';
import { GrpcCall } from '../grpc/grpc-call';
import { assertUuid } from '../keys/shared/key-request.validators';
import { GRPC_SERVICE } from '../keys/shared/key-routes';
import { UsageQueryRequest } from './usage-query.request.dto';
import { UsageReads } from './usage-reads';

/** proto3 optional strings: an absent one is left out, as a left-out query parameter over HTTP. */
interface UsageRangeMessage {
  uuid?: string;
  from?: string;
  to?: string;
  granularity?: string;
}

const rangeOf = (message: UsageRangeMessage) =>
  validateInput(
    UsageQueryRequest,
    Object.fromEntries(Object.entries({ from: message.from, to: message.to, granularity: message.granularity }).filter(([, v]) => v !== undefined)),
  );

/**
 * The usage reads over gRPC, the same as GET /v1/usage/keys/{uuid} and GET /v1/usage (UsageReads):
 * GetKeyUsage and GetTeamUsage, for owners, members (their keys) and auditors. Errors as every method:
 * INVALID_ARGUMENT naming the field, NOT_FOUND for a key the caller may not see.
 */
@Controller()
export class UsageReadGrpcController {
  constructor(
    private readonly reads: UsageReads,
    private readonly grpc: GrpcCall,
  ) {}

  @GrpcMethod(GRPC_SERVICE, 'GetKeyUsage')
  async getKeyUsage(message: UsageRangeMessage, metadata: Metadata) {
    const actor = await this.grpc.principal(metadata);
    const uuid = assertUuid(message.uuid ?? '', 'uuid');
    // The answer has the HTTP route's shape, which the proto's messages follow field for field.
    return this.reads.keyUsage(actor, uuid, rangeOf(message));
  }

  @GrpcMethod(GRPC_SERVICE, 'GetTeamUsage')
  async getTeamUsage(message: UsageRangeMessage, metadata: Metadata) {
    const actor = await this.grpc.principal(metadata);
    return this.reads.teamUsage(actor, rangeOf(message));
  }
}
