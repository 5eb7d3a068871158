import { Body, Controller, Header, HttpCode, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiHeader, ApiOkResponse, ApiOperation, ApiResponse } from '@nestjs/swagger';
import { CurrentPrincipal } from '../../auth/auth.guard';
import { Principal } from '../../auth/principal';
import { RequestContext } from '../../common/request-context';
import { HttpRequestContext, RequestHeader } from '../../http/request-context.decorator';
import { ApiKeyInfoEnvelope, ErrorResponse, toApiKeyInfo } from '../shared/api-key-info.response';
import { KEYS_PATH, ModelKeyRoutes } from '../shared/key-routes';
import { CreateKeyCommand } from './create-key.command';
import { CreateKeyRequest } from './create-key.request.dto';

@ModelKeyRoutes()
@Controller(KEYS_PATH)
export class CreateKeyHttpController {
  constructor(private readonly commands: CommandBus) {}

  @Post()
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  @ApiOperation({ summary: 'Create a model access key; the secret is in this answer only' })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'A retry with the same key and body within 24 h returns the first answer' })
  @ApiOkResponse({ type: ApiKeyInfoEnvelope })
  @ApiResponse({ status: 422, type: ErrorResponse, description: 'Batch without all models, expiry not in the future, Idempotency-Key reused' })
  async create(
    @CurrentPrincipal() actor: Principal,
    @Body() body: CreateKeyRequest,
    @RequestHeader('idempotency-key') idempotencyKey: string | null,
    @HttpRequestContext() context: RequestContext,
  ): Promise<ApiKeyInfoEnvelope> {
    const { key, secret } = await this.commands.execute(new CreateKeyCommand(actor, body, idempotencyKey, context));
    return { api_key_info: toApiKeyInfo(key, secret) };
  }
}
