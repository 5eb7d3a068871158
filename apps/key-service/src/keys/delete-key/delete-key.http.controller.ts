import { Body, Controller, Delete } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBody, ApiHeader, ApiOkResponse, ApiOperation, ApiResponse } from '@nestjs/swagger';
import { CurrentPrincipal } from '../../auth/auth.guard';
import { Principal } from '../../auth/principal';
import { RequestContext } from '../../common/request-context';
import { validateInput } from '../../common/validation';
import { HttpRequestContext, RequestHeader } from '../../http/request-context.decorator';
import { ApiKeyInfoEnvelope, ErrorResponse, toApiKeyInfo } from '../shared/api-key-info.response';
import { ConfirmNameRequest } from '../shared/confirm-name.request.dto';
import { KeyUuidParam } from '../shared/key-request.validators';
import { KEYS_PATH, ModelKeyRoutes } from '../shared/key-routes';
import { DeleteKeyCommand } from './delete-key.command';

@ModelKeyRoutes()
@Controller(KEYS_PATH)
export class DeleteKeyHttpController {
  constructor(private readonly commands: CommandBus) {}

  @Delete(':uuid')
  @ApiOperation({ summary: 'Delete a key for good; its history stays in the store' })
  @ApiBody({ type: ConfirmNameRequest, required: false })
  @ApiHeader({ name: 'X-Confirm-Name', required: false })
  @ApiOkResponse({ type: ApiKeyInfoEnvelope })
  @ApiResponse({ status: 409, type: ErrorResponse, description: 'Still attached to deployments (named in the message)' })
  @ApiResponse({ status: 412, type: ErrorResponse, description: 'confirm_name differs from the key name; nothing changed' })
  async delete(
    @CurrentPrincipal() actor: Principal,
    @KeyUuidParam() uuid: string,
    @Body() body: unknown,
    @RequestHeader('x-confirm-name') confirmHeader: string | null,
    @HttpRequestContext() context: RequestContext,
  ): Promise<ApiKeyInfoEnvelope> {
    const request = validateInput(ConfirmNameRequest, body === undefined ? {} : body);
    const key = await this.commands.execute(new DeleteKeyCommand(actor, uuid, request.confirm_name ?? confirmHeader, context));
    return { api_key_info: toApiKeyInfo(key) };
  }
}
