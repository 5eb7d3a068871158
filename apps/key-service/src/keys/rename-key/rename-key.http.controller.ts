import { Body, Controller, Put } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiOkResponse, ApiOperation, ApiResponse } from '@nestjs/swagger';
import { CurrentPrincipal } from '../../auth/auth.guard';
import { Principal } from '../../auth/principal';
import { DomainError } from '../../common/domain-error';
import { RequestContext } from '../../common/request-context';
import { HttpRequestContext } from '../../http/request-context.decorator';
import { ApiKeyInfoEnvelope, ErrorResponse, toApiKeyInfo } from '../shared/api-key-info.response';
import { KeyUuidParam } from '../shared/key-request.validators';
import { KEYS_PATH, ModelKeyRoutes } from '../shared/key-routes';
import { RenameKeyCommand } from './rename-key.command';
import { RenameKeyRequest } from './rename-key.request.dto';

@ModelKeyRoutes()
@Controller(KEYS_PATH)
export class RenameKeyHttpController {
  constructor(private readonly commands: CommandBus) {}

  @Put(':uuid')
  @ApiOperation({ summary: 'Rename a key; its secret stays valid' })
  @ApiOkResponse({ type: ApiKeyInfoEnvelope })
  @ApiResponse({ status: 404, type: ErrorResponse })
  @ApiResponse({ status: 422, type: ErrorResponse, description: 'An attempt to change models, VPC or the batch flag' })
  async rename(
    @CurrentPrincipal() actor: Principal,
    @KeyUuidParam() uuid: string,
    @Body() body: RenameKeyRequest,
    @HttpRequestContext() context: RequestContext,
  ): Promise<ApiKeyInfoEnvelope> {
    if (body.api_key_uuid !== undefined && body.api_key_uuid.toLowerCase() !== uuid.toLowerCase()) {
      throw new DomainError('VALIDATION_FAILED', 'api_key_uuid does not match the uuid in the path', { field: 'api_key_uuid' });
    }
    const scopeChange = { models: body.models, vpcUuid: body.vpc_uuid, batchInferenceEnabled: body.batch_inference_enabled };
    const key = await this.commands.execute(new RenameKeyCommand(actor, uuid, body.name, scopeChange, context));
    return { api_key_info: toApiKeyInfo(key) };
  }
}
