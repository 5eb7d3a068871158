import { Body, Controller, Header, Put } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBody, ApiHeader, ApiOkResponse, ApiOperation, ApiResponse } from '@nestjs/swagger';
import { CurrentPrincipal } from '../../auth/auth.guard';
import { Principal } from '../../auth/principal';
import { RequestContext } from '../../common/request-context';
import { validateInput } from '../../common/validation';
import { HttpRequestContext, RequestHeader } from '../../http/request-context.decorator';
import { ApiKeyInfoEnvelope, ErrorResponse, toApiKeyInfo } from '../shared/api-key-info.response';
import { KeyUuidParam } from '../shared/key-request.validators';
import { KEYS_PATH, ModelKeyRoutes } from '../shared/key-routes';
import { RegenerateKeyRequest } from './regenerate-key.request.dto';
import { RegenerateKeyCommand } from './regenerate-key.command';

@ModelKeyRoutes()
@Controller(KEYS_PATH)
export class RegenerateKeyHttpController {
  constructor(private readonly commands: CommandBus) {}

  @Put(':uuid/regenerate')
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    summary: 'A new secret, shown once; the old one stops working at once, or after grace_period_seconds (our extension)',
  })
  @ApiBody({ type: RegenerateKeyRequest, required: false })
  @ApiHeader({ name: 'X-Confirm-Name', required: false })
  @ApiHeader({ name: 'Idempotency-Key', required: false })
  @ApiOkResponse({ type: ApiKeyInfoEnvelope })
  @ApiResponse({ status: 412, type: ErrorResponse, description: 'confirm_name differs from the key name; nothing changed' })
  @ApiResponse({ status: 422, type: ErrorResponse, description: 'The Idempotency-Key was used with another request' })
  async regenerate(
    @CurrentPrincipal() actor: Principal,
    @KeyUuidParam() uuid: string,
    @Body() body: unknown,
    @RequestHeader('x-confirm-name') confirmHeader: string | null,
    @RequestHeader('idempotency-key') idempotencyKey: string | null,
    @HttpRequestContext() context: RequestContext,
  ): Promise<ApiKeyInfoEnvelope> {
    // DigitalOcean's clients send no body here: an absent body is an empty request.
    const request = validateInput(RegenerateKeyRequest, body === undefined ? {} : body);
    const confirmName = request.confirm_name ?? confirmHeader;
    const { key, secret } = await this.commands.execute(
      new RegenerateKeyCommand(actor, uuid, confirmName, idempotencyKey, context, request.grace_period_seconds ?? 0),
    );
    return { api_key_info: toApiKeyInfo(key, secret) };
  }
}
