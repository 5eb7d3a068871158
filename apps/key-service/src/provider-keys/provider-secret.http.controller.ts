import { Controller, Get, Header, Query } from '@nestjs/common';
import { AuthenticatedRoutes } from '../http/authenticated-routes';
import { ApiOkResponse, ApiOperation, ApiResponse } from '@nestjs/swagger';
import { CurrentPrincipal } from '../auth/auth.guard';
import { Principal } from '../auth/principal';
import { RequestContext } from '../common/request-context';
import { HttpRequestContext } from '../http/request-context.decorator';
import { ErrorResponse } from '../keys/shared/api-key-info.response';
import { KeyUuidParam } from '../keys/shared/key-request.validators';
import { ProviderKeys, ProviderSecret } from './provider-keys.service';
import { ProviderSecretResponse, ReadProviderSecretRequest } from './provider-keys.request.dto';

/** For the platform's own services that call the provider: role `service`, its team's keys only, every read audited. */
@AuthenticatedRoutes('internal', ['service'], 'Not role service')
@Controller('internal/provider-keys')
export class ProviderSecretHttpController {
  constructor(private readonly keys: ProviderKeys) {}

  @Get(':uuid/secret')
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    summary: 'The plaintext provider key; a ProviderKeySecretRead event is stored first (with agent_uuid: that linked agent’s use)',
  })
  @ApiOkResponse({ type: ProviderSecretResponse })
  @ApiResponse({ status: 404, type: ErrorResponse, description: 'No such live key in the caller’s team, or agent_uuid is not linked to it' })
  secret(
    @CurrentPrincipal() actor: Principal,
    @KeyUuidParam() uuid: string,
    @Query() query: ReadProviderSecretRequest,
    @HttpRequestContext() context: RequestContext,
  ): Promise<ProviderSecret> {
    return this.keys.readSecret(actor, uuid, context, query.agent_uuid?.toLowerCase());
  }
}
