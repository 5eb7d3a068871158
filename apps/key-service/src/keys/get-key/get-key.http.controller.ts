import { Controller, Get, Inject } from '@nestjs/common';
import { CLOCK, Clock } from '../../common/clock';
import { keyUsageView } from '../../usage/key-usage.view';
import { USAGE_STORE, UsageStore } from '../../usage/usage-store.port';
import { QueryBus } from '@nestjs/cqrs';
import { ApiOkResponse, ApiOperation, ApiResponse } from '@nestjs/swagger';
import { CurrentPrincipal } from '../../auth/auth.guard';
import { Principal } from '../../auth/principal';
import { ApiKeyInfoEnvelope, ErrorResponse, toApiKeyInfo } from '../shared/api-key-info.response';
import { KeyUuidParam } from '../shared/key-request.validators';
import { KEYS_PATH, ModelKeyRoutes } from '../shared/key-routes';
import { GetKeyQuery } from './get-key.query';

@ModelKeyRoutes()
@Controller(KEYS_PATH)
export class GetKeyHttpController {
  constructor(
    private readonly queries: QueryBus,
    @Inject(USAGE_STORE) private readonly usage: UsageStore,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @Get(':uuid')
  @ApiOperation({ summary: 'One key the caller may see' })
  @ApiOkResponse({ type: ApiKeyInfoEnvelope })
  @ApiResponse({ status: 404, type: ErrorResponse, description: 'Unknown, deleted, or not visible to the caller' })
  async get(@CurrentPrincipal() actor: Principal, @KeyUuidParam() uuid: string): Promise<ApiKeyInfoEnvelope> {
    const key = await this.queries.execute(new GetKeyQuery(actor, uuid));
    return { api_key_info: toApiKeyInfo(key, undefined, await keyUsageView(this.usage, key, this.clock.now().getTime())) };
  }
}
