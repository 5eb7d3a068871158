import { Controller } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { GrpcMethod } from '@nestjs/microservices';
import type { Metadata, ServerUnaryCall } from '@grpc/grpc-js';
import { validateInput } from '../../common/validation';
import { GrpcCall, toGrpcKeyInfo } from '../../grpc/grpc-call';
import { assertUuid } from '../shared/key-request.validators';
import { GRPC_SERVICE } from '../shared/key-routes';
import { ChangeLimitsCommand } from './change-limits.command';
import { KeyLimitsRequest, limitsOfRequest } from './key-limits.request.dto';

/** proto3 optional fields: an absent one is no limit, as a left-out field of the HTTP body. */
interface SetKeyLimitsMessage {
  uuid?: string;
  limits?: GrpcLimits;
}

export interface GrpcLimits {
  requests_per_minute?: string | number;
  tokens_per_minute?: string | number;
  quota?: { requests?: string | number; tokens?: string | number; period?: string };
}

const int = (value: string | number | undefined) => (value === undefined ? undefined : Number(value));

/** The gRPC limits message as the HTTP body would be (int64 arrives as a string). */
export function limitsBodyOfGrpc(limits: GrpcLimits | undefined): Record<string, unknown> {
  if (!limits) return {};
  return Object.fromEntries(
    Object.entries({
      requests_per_minute: int(limits.requests_per_minute),
      tokens_per_minute: int(limits.tokens_per_minute),
      quota: limits.quota
        ? Object.fromEntries(
            Object.entries({ requests: int(limits.quota.requests), tokens: int(limits.quota.tokens), period: limits.quota.period ?? '' }).filter(
              ([, v]) => v !== undefined,
            ),
          )
        : undefined,
    }).filter(([, v]) => v !== undefined),
  );
}

@Controller()
export class ChangeLimitsGrpcController {
  constructor(
    private readonly commands: CommandBus,
    private readonly grpc: GrpcCall,
  ) {}

  @GrpcMethod(GRPC_SERVICE, 'SetKeyLimits')
  async setKeyLimits(message: SetKeyLimitsMessage, metadata: Metadata, call: ServerUnaryCall<unknown, unknown>) {
    const actor = await this.grpc.principal(metadata);
    const uuid = assertUuid(message.uuid ?? '', 'uuid');
    const request = validateInput(KeyLimitsRequest, limitsBodyOfGrpc(message.limits));
    const key = await this.commands.execute(new ChangeLimitsCommand(actor, uuid, limitsOfRequest(request), this.grpc.context(metadata, call)));
    return { api_key_info: toGrpcKeyInfo(key) };
  }
}
