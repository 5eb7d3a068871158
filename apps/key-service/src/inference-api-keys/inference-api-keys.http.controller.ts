import { Body, Controller, Delete, Get, Header, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { AuthenticatedRoutes } from '../http/authenticated-routes';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiResponse } from '@nestjs/swagger';
import { CurrentPrincipal } from '../auth/auth.guard';
import { Principal } from '../auth/principal';
import { RequestContext } from '../common/request-context';
import { HttpRequestContext } from '../http/request-context.decorator';
import { ErrorResponse } from '../keys/shared/api-key-info.response';
import { InferenceApiKeys, toInferenceApiKey } from './inference-api-keys.service';
import {
  CreateInferenceApiKeyRequest,
  InferenceApiKeyListResponse,
  InferenceApiKeyResponse,
  ListInferenceApiKeysRequest,
  UpdateInferenceApiKeyRequest,
} from './inference-api-keys.request.dto';

/** Gcore's inference API keys (`/cloud/v3/inference/{project_id}/api_keys`); `Authorization: APIKey <token>` or Bearer. */
@AuthenticatedRoutes('inference api keys (Gcore)', ['owner', 'member', 'auditor'])
@ApiResponse({ status: 404, type: ErrorResponse, description: 'Another project, or no such key in the project' })
@Controller('cloud/v3/inference/:project_id/api_keys')
export class InferenceApiKeysHttpController {
  constructor(private readonly keys: InferenceApiKeys) {}

  @Post()
  @HttpCode(201)
  @Header('Cache-Control', 'no-store')
  @ApiOperation({ summary: 'Create a key; the secret is in this answer only' })
  @ApiCreatedResponse({ type: InferenceApiKeyResponse })
  @ApiResponse({ status: 409, type: ErrorResponse, description: 'The name is in use in the project' })
  @ApiResponse({ status: 422, type: ErrorResponse, description: 'expires_at not in the future' })
  async create(
    @CurrentPrincipal() actor: Principal,
    @Param('project_id') projectId: string,
    @Body() body: CreateInferenceApiKeyRequest,
    @HttpRequestContext() context: RequestContext,
  ): Promise<InferenceApiKeyResponse> {
    const { key, secret } = await this.keys.create(actor, projectId, body, context);
    return toInferenceApiKey(key, secret);
  }

  @Get()
  @ApiOperation({ summary: "The project's keys, oldest first" })
  @ApiOkResponse({ type: InferenceApiKeyListResponse })
  list(@CurrentPrincipal() actor: Principal, @Param('project_id') projectId: string, @Query() query: ListInferenceApiKeysRequest): InferenceApiKeyListResponse {
    const { keys, count } = this.keys.list(actor, projectId, query.limit ?? 100, query.offset ?? 0);
    return { results: keys.map((key) => toInferenceApiKey(key)), count };
  }

  @Get(':api_key_name')
  @ApiOkResponse({ type: InferenceApiKeyResponse })
  get(@CurrentPrincipal() actor: Principal, @Param('project_id') projectId: string, @Param('api_key_name') name: string): InferenceApiKeyResponse {
    return toInferenceApiKey(this.keys.get(actor, projectId, name));
  }

  @Patch(':api_key_name')
  @ApiOperation({ summary: 'Change the description, the expiry (null: never) or the whole set of deployments' })
  @ApiOkResponse({ type: InferenceApiKeyResponse })
  @ApiResponse({ status: 409, type: ErrorResponse, description: 'The key has expired: its expiry can no longer change' })
  @ApiResponse({ status: 422, type: ErrorResponse, description: 'expires_at not in the future' })
  async update(
    @CurrentPrincipal() actor: Principal,
    @Param('project_id') projectId: string,
    @Param('api_key_name') name: string,
    @Body() body: UpdateInferenceApiKeyRequest,
    @HttpRequestContext() context: RequestContext,
  ): Promise<InferenceApiKeyResponse> {
    return toInferenceApiKey(await this.keys.update(actor, projectId, name, body, context));
  }

  @Delete(':api_key_name')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Deleted; the name is free again' })
  @ApiResponse({ status: 409, type: ErrorResponse, description: 'Still attached to deployments (named in the message)' })
  async delete(
    @CurrentPrincipal() actor: Principal,
    @Param('project_id') projectId: string,
    @Param('api_key_name') name: string,
    @HttpRequestContext() context: RequestContext,
  ): Promise<void> {
    await this.keys.delete(actor, projectId, name, context);
  }
}
