import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Put, Query, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { AuthenticatedRoutes } from '../http/authenticated-routes';
import { ApiBody, ApiHeader, ApiOkResponse, ApiOperation, ApiParam, ApiResponse } from '@nestjs/swagger';
import { CurrentPrincipal } from '../auth/auth.guard';
import { Principal } from '../auth/principal';
import { DomainError } from '../common/domain-error';
import { APP_CONFIG, AppConfig } from '../config/app.config';
import { RequestContext } from '../common/request-context';
import { validateInput } from '../common/validation';
import { HttpRequestContext, RequestHeader } from '../http/request-context.decorator';
import { DEFAULT_PER_PAGE } from '../keys/list-keys/list-keys.request.dto';
import { ErrorResponse } from '../keys/shared/api-key-info.response';
import { ConfirmNameRequest } from '../keys/shared/confirm-name.request.dto';
import { KeyUuidParam } from '../keys/shared/key-request.validators';
import { linkBase, pageLinks } from '../keys/shared/page-links';
import { PROVIDERS, Provider } from './domain/provider-key.events';
import { ProviderKeys, toProviderKeyInfo } from './provider-keys.service';
import {
  CreateProviderKeyRequest,
  ListProviderKeysRequest,
  ProviderKeyDeletedEnvelope,
  ProviderKeyInfoEnvelope,
  ProviderKeyInfoPage,
  UpdateProviderKeyRequest,
} from './provider-keys.request.dto';

const providerOf = (raw: string): Provider => {
  if (!(PROVIDERS as readonly string[]).includes(raw)) throw new DomainError('KEY_NOT_FOUND', `no provider ${raw}: use ${PROVIDERS.join(' or ')}`);
  return raw as Provider;
};

/** DigitalOcean's partner provider keys: `/v2/gen-ai/anthropic/keys` and `/v2/gen-ai/openai/keys`. */
@AuthenticatedRoutes('partner provider keys', ['owner', 'member', 'auditor'])
@ApiParam({ name: 'provider', enum: PROVIDERS })
@Controller('v2/gen-ai/:provider/keys')
export class ProviderKeysHttpController {
  constructor(
    private readonly keys: ProviderKeys,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get()
  @ApiOperation({ summary: 'The provider keys the caller may see, newest first, paged as DigitalOcean pages' })
  @ApiOkResponse({ type: ProviderKeyInfoPage })
  list(@CurrentPrincipal() actor: Principal, @Param('provider') raw: string, @Query() query: ListProviderKeysRequest, @Req() request: FastifyRequest): ProviderKeyInfoPage {
    const provider = providerOf(raw);
    const page = query.page ?? 1;
    const perPage = query.per_page ?? DEFAULT_PER_PAGE;
    const { keys, total } = this.keys.list(actor, provider, page, perPage);
    return { api_key_infos: keys.map(toProviderKeyInfo), ...pageLinks(linkBase(this.config, request), `v2/gen-ai/${provider}/keys`, page, perPage, total) };
  }

  @Post()
  @HttpCode(200)
  @ApiOperation({ summary: 'Verify the key with the provider, then store it encrypted ("Verify and Save")' })
  @ApiOkResponse({ type: ProviderKeyInfoEnvelope })
  @ApiResponse({ status: 409, type: ErrorResponse, description: 'The name is in use for this provider' })
  @ApiResponse({ status: 422, type: ErrorResponse, description: 'The provider rejected the key; nothing stored' })
  @ApiResponse({ status: 502, type: ErrorResponse, description: 'The provider could not be reached; nothing stored' })
  async create(
    @CurrentPrincipal() actor: Principal,
    @Param('provider') raw: string,
    @Body() body: CreateProviderKeyRequest,
    @HttpRequestContext() context: RequestContext,
  ): Promise<ProviderKeyInfoEnvelope> {
    return { api_key_info: toProviderKeyInfo(await this.keys.create(actor, providerOf(raw), body, context)) };
  }

  @Get(':uuid')
  @ApiOkResponse({ type: ProviderKeyInfoEnvelope })
  @ApiResponse({ status: 404, type: ErrorResponse, description: 'No such key for this provider in the caller’s team' })
  get(@CurrentPrincipal() actor: Principal, @Param('provider') raw: string, @KeyUuidParam() uuid: string): ProviderKeyInfoEnvelope {
    return { api_key_info: toProviderKeyInfo(this.keys.get(actor, providerOf(raw), uuid)) };
  }

  @Put(':uuid')
  @ApiOperation({ summary: 'Rename, or replace the key (verified with the provider again)' })
  @ApiOkResponse({ type: ProviderKeyInfoEnvelope })
  @ApiResponse({ status: 422, type: ErrorResponse, description: 'The provider rejected the new key; nothing changed' })
  @ApiResponse({ status: 502, type: ErrorResponse, description: 'The provider could not be reached; nothing changed' })
  async update(
    @CurrentPrincipal() actor: Principal,
    @Param('provider') raw: string,
    @KeyUuidParam() uuid: string,
    @Body() body: UpdateProviderKeyRequest,
    @HttpRequestContext() context: RequestContext,
  ): Promise<ProviderKeyInfoEnvelope> {
    return { api_key_info: toProviderKeyInfo(await this.keys.update(actor, providerOf(raw), uuid, body, context)) };
  }

  @Delete(':uuid')
  @ApiOperation({
    summary: 'Delete the key and destroy its data key: the history stays, the secret is gone for good; the answer names the agents that lost access',
  })
  @ApiBody({ type: ConfirmNameRequest, required: false })
  @ApiHeader({ name: 'X-Confirm-Name', required: false })
  @ApiOkResponse({ type: ProviderKeyDeletedEnvelope })
  @ApiResponse({ status: 412, type: ErrorResponse, description: 'confirm_name differs from the key name; nothing changed' })
  async delete(
    @CurrentPrincipal() actor: Principal,
    @Param('provider') raw: string,
    @KeyUuidParam() uuid: string,
    @Body() body: unknown,
    @RequestHeader('x-confirm-name') confirmHeader: string | null,
    @HttpRequestContext() context: RequestContext,
  ): Promise<ProviderKeyDeletedEnvelope> {
    const request = validateInput(ConfirmNameRequest, body === undefined ? {} : body);
    const view = await this.keys.delete(actor, providerOf(raw), uuid, request.confirm_name ?? confirmHeader, context);
    return { api_key_info: toProviderKeyInfo(view), agents: [...view.lostAgents] };
  }
}
