import { Body, Controller, Delete, HttpCode, Param, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiOkResponse, ApiOperation, ApiResponse } from '@nestjs/swagger';
import { CurrentPrincipal } from '../../auth/auth.guard';
import { Principal } from '../../auth/principal';
import { RequestContext } from '../../common/request-context';
import { validateInput } from '../../common/validation';
import { HttpRequestContext } from '../../http/request-context.decorator';
import { ApiKeyInfoEnvelope, ErrorResponse, toApiKeyInfo } from '../shared/api-key-info.response';
import { KeyUuidParam } from '../shared/key-request.validators';
import { KEYS_PATH, ModelKeyRoutes } from '../shared/key-routes';
import { AttachDeploymentRequest } from './attach-deployment.request.dto';
import { ChangeDeploymentCommand } from './deployment.command';

/** Keys and deployments are many-to-many; a key attached to any deployment is not deleted. */
@ModelKeyRoutes()
@Controller(KEYS_PATH)
export class DeploymentsHttpController {
  constructor(private readonly commands: CommandBus) {}

  @Post(':uuid/deployments')
  @HttpCode(200)
  @ApiOperation({ summary: 'Attach the key to a deployment (attaching twice changes nothing)' })
  @ApiOkResponse({ type: ApiKeyInfoEnvelope })
  async attach(
    @CurrentPrincipal() actor: Principal,
    @KeyUuidParam() uuid: string,
    @Body() body: AttachDeploymentRequest,
    @HttpRequestContext() context: RequestContext,
  ): Promise<ApiKeyInfoEnvelope> {
    const key = await this.commands.execute(new ChangeDeploymentCommand(true, actor, uuid, body.deployment_name, context));
    return { api_key_info: toApiKeyInfo(key) };
  }

  @Delete(':uuid/deployments/:deployment_name')
  @ApiOperation({ summary: 'Detach the key from a deployment' })
  @ApiOkResponse({ type: ApiKeyInfoEnvelope })
  @ApiResponse({ status: 404, type: ErrorResponse, description: 'Unknown key, or not attached to that deployment' })
  async detach(
    @CurrentPrincipal() actor: Principal,
    @KeyUuidParam() uuid: string,
    @Param('deployment_name') deploymentName: string,
    @HttpRequestContext() context: RequestContext,
  ): Promise<ApiKeyInfoEnvelope> {
    const { deployment_name } = validateInput(AttachDeploymentRequest, { deployment_name: deploymentName });
    const key = await this.commands.execute(new ChangeDeploymentCommand(false, actor, uuid, deployment_name, context));
    return { api_key_info: toApiKeyInfo(key) };
  }
}
