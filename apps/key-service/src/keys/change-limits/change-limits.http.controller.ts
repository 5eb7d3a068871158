import { Body, Controller, Put } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBody, ApiOkResponse, ApiOperation, ApiResponse } from '@nestjs/swagger';
import { validateInput } from '../../common/validation';
import { CurrentPrincipal } from '../../auth/auth.guard';
import { Principal } from '../../auth/principal';
import { DomainError } from '../../common/domain-error';
import { RequestContext } from '../../common/request-context';
import { HttpRequestContext } from '../../http/request-context.decorator';
import { ApiKeyInfoEnvelope, ErrorResponse, toApiKeyInfo } from '../shared/api-key-info.response';
import { KeyUuidParam } from '../shared/key-request.validators';
import { KEYS_PATH, ModelKeyRoutes } from '../shared/key-routes';
import { ChangeLimitsCommand } from './change-limits.command';
import { KeyLimitsRequest, limitsOfRequest } from './key-limits.request.dto';

@ModelKeyRoutes()
@Controller(KEYS_PATH)
export class ChangeLimitsHttpController {
  constructor(private readonly commands: CommandBus) {}

  /**
   * Our extension: the key's rate limits and quota, replaced whole (a field left out or null is lifted;
   * `{}` lifts them all). Legacy keys too. 400 names the bad field (`quota.period`, ...); 404 for a key
   * the caller cannot see; 403 for one they cannot manage; 409 KEY_EXPIRED for an expired key.
   */
  @Put(':uuid/limits')
  @ApiOperation({ summary: "Set a key's rate limits and quota (replaces them whole); gateways apply them within a feed round trip" })
  @ApiBody({ type: KeyLimitsRequest, required: true })
  @ApiOkResponse({ type: ApiKeyInfoEnvelope })
  @ApiResponse({ status: 400, type: ErrorResponse, description: 'A limit out of range, a quota without requests or tokens; the field is named' })
  @ApiResponse({ status: 404, type: ErrorResponse })
  async change(
    @CurrentPrincipal() actor: Principal,
    @KeyUuidParam() uuid: string,
    @Body() body: unknown,
    @HttpRequestContext() context: RequestContext,
  ): Promise<ApiKeyInfoEnvelope> {
    // The body is required: `{}` lifts the limits, an absent body is not taken to mean it.
    if (body === undefined) throw new DomainError('VALIDATION_FAILED', 'the request body must be a JSON object (give {} to lift every limit)', { field: 'body' });
    const request = validateInput(KeyLimitsRequest, body);
    const key = await this.commands.execute(new ChangeLimitsCommand(actor, uuid, limitsOfRequest(request), context));
    return { api_key_info: toApiKeyInfo(key) };
  }
}
