import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import type { Metadata } from '@grpc/grpc-js';
import { validateInput } from '../common/validation';
import { GrpcCall } from '../grpc/grpc-call';
import { assertUuid } from '../keys/shared/key-request.validators';
import { GRPC_SERVICE } from '../keys/shared/key-routes';
import { TEAM_USAGE_DEFAULT_PER_PAGE, TeamUsageQueryRequest, UsageQueryRequest } from './usage-query.request.dto';
import { UsageReads } from './usage-reads';

/** proto3 optional strings: an absent one is left out, as a left-out query parameter over HTTP. */
interface UsageRangeMessage {
  uuid?: string;
  from?: string;
  to?: string;
  granularity?: string;
  page?: number;
  per_page?: number;
}

const rangeOf = (message: UsageRangeMessage) =>
  validateInput(
    UsageQueryRequest,
    Object.fromEntries(Object.entries({ from: message.from, to: message.to, granularity: message.granularity }).filter(([, v]) => v !== undefined)),
  );

/** The range and the page; proto3's 0 (left out) is the default, as in ListKeys. */
const teamRangeOf = (message: UsageRangeMessage) =>
  validateInput(
    TeamUsageQueryRequest,
    Object.fromEntries(
      Object.entries({ from: message.from, to: message.to, granularity: message.granularity, page: message.page || undefined, per_page: message.per_page || undefined }).filter(
        ([, v]) => v !== undefined,
      ),
    ),
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
    const query = teamRangeOf(message);
    const page = query.page ?? 1;
    const perPage = query.per_page ?? TEAM_USAGE_DEFAULT_PER_PAGE;
    const { total, ...usage } = await this.reads.teamUsage(actor, query, page, perPage);
    return { ...usage, page, pages: Math.max(1, Math.ceil(total / perPage)), total };
  }
}
