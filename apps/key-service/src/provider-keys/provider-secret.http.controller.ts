import { Controller, Get, Header, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { AllowRoles, BearerAuthGuard, CurrentPrincipal } from '../auth/auth.guard';
import { Principal } from '../auth/principal';
import { RequestContext } from '../common/request-context';
import { HttpRequestContext } from '../http/request-context.decorator';
import { ErrorResponse } from '../keys/shared/api-key-info.response';
import { KeyUuidParam } from '../keys/shared/key-request.validators';
import { ProviderKeys, ProviderSecret } from './provider-keys.service';
import { ProviderSecretResponse } from './provider-keys.request.dto';

/** For the platform's own services that call the provider: role `service`, its team's keys only, every read audited. */
@ApiTags('internal')
@ApiBearerAuth()
@UseGuards(BearerAuthGuard)
@AllowRoles('service')
@Controller('internal/provider-keys')
export class ProviderSecretHttpController {
  constructor(private readonly keys: ProviderKeys) {}

  @Get(':uuid/secret')
  @Header('Cache-Control', 'no-store')
  @ApiOperation({ summary: 'The plaintext provider key; a ProviderKeySecretRead event is stored first' })
  @ApiOkResponse({ type: ProviderSecretResponse })
  @ApiResponse({ status: 403, type: ErrorResponse, description: 'Not role service' })
  @ApiResponse({ status: 404, type: ErrorResponse, description: 'No such live key in the caller’s team' })
  secret(@CurrentPrincipal() actor: Principal, @KeyUuidParam() uuid: string, @HttpRequestContext() context: RequestContext): Promise<ProviderSecret> {
    return this.keys.readSecret(actor, uuid, context);
  }
}
