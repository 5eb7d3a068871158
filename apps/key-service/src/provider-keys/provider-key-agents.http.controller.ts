import { Body, Controller, Delete, Get, HttpCode, Inject, Param, ParseUUIDPipe, Put, Query, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ApiBody, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiParam, ApiResponse } from '@nestjs/swagger';
import { CurrentPrincipal } from '../auth/auth.guard';
import { Principal } from '../auth/principal';
import { DomainError } from '../common/domain-error';
import { RequestContext } from '../common/request-context';
import { validateInput } from '../common/validation';
import { APP_CONFIG, AppConfig } from '../config/app.config';
import { AuthenticatedRoutes } from '../http/authenticated-routes';
import { HttpRequestContext } from '../http/request-context.decorator';
import { DEFAULT_PER_PAGE } from '../keys/list-keys/list-keys.request.dto';
import { ErrorResponse } from '../keys/shared/api-key-info.response';
import { KeyUuidParam } from '../keys/shared/key-request.validators';
import { linkBase, pageLinks } from '../keys/shared/page-links';
import { PROVIDERS, Provider } from './domain/provider-key.events';
import { ProviderKeys } from './provider-keys.service';
import { LinkAgentRequest, ListProviderKeysRequest, ProviderKeyAgentEnvelope, ProviderKeyAgentPage } from './provider-keys.request.dto';

const providerOf = (raw: string): Provider => {
  if (!(PROVIDERS as readonly string[]).includes(raw)) throw new DomainError('KEY_NOT_FOUND', `no provider ${raw}: use ${PROVIDERS.join(' or ')}`);
  return raw as Provider;
};

const AgentUuidParam = () =>
  Param(
    'agent_uuid',
    new ParseUUIDPipe({ exceptionFactory: () => new DomainError('VALIDATION_FAILED', 'agent_uuid must be a UUID', { field: 'agent_uuid' }) }),
    { transform: (value: string) => value.toLowerCase() },
  );

/**
 * The agents behind a partner provider key. The list is DigitalOcean's route; linking and unlinking
 * are our extension, for the agent platform (role `service`, the key's team), recorded on the key's
 * stream with who and when.
 */
@AuthenticatedRoutes('partner provider keys', ['owner', 'member', 'auditor', 'service'])
@ApiParam({ name: 'provider', enum: PROVIDERS })
@Controller('v2/gen-ai/:provider/keys/:uuid/agents')
export class ProviderKeyAgentsHttpController {
  constructor(
    private readonly keys: ProviderKeys,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get()
  @ApiOperation({ summary: 'The agents linked to the key, in the order they were linked, paged as DigitalOcean pages' })
  @ApiOkResponse({ type: ProviderKeyAgentPage })
  @ApiResponse({ status: 404, type: ErrorResponse, description: 'No such key for this provider that the caller may see' })
  list(
    @CurrentPrincipal() actor: Principal,
    @Param('provider') raw: string,
    @KeyUuidParam() uuid: string,
    @Query() query: ListProviderKeysRequest,
    @Req() request: FastifyRequest,
  ): ProviderKeyAgentPage {
    const provider = providerOf(raw);
    const page = query.page ?? 1;
    const perPage = query.per_page ?? DEFAULT_PER_PAGE;
    const { agents, total } = this.keys.listAgents(actor, provider, uuid, page, perPage);
    return { agents, ...pageLinks(linkBase(this.config, request), `v2/gen-ai/${provider}/keys/${uuid}/agents`, page, perPage, total) };
  }

  @Put(':agent_uuid')
  @ApiOperation({ summary: 'Link an agent to the key, or rename a linked one (our extension; role service, the key’s team)' })
  @ApiBody({ type: LinkAgentRequest, required: false })
  @ApiOkResponse({ type: ProviderKeyAgentEnvelope })
  @ApiResponse({ status: 404, type: ErrorResponse, description: 'No such live key for this provider in the caller’s team' })
  async link(
    @CurrentPrincipal() actor: Principal,
    @Param('provider') raw: string,
    @KeyUuidParam() uuid: string,
    @AgentUuidParam() agentUuid: string,
    @Body() body: unknown,
    @HttpRequestContext() context: RequestContext,
  ): Promise<ProviderKeyAgentEnvelope> {
    const request = validateInput(LinkAgentRequest, body === undefined ? {} : body);
    return { agent: await this.keys.linkAgent(actor, providerOf(raw), uuid, agentUuid, request.name, context) };
  }

  @Delete(':agent_uuid')
  @HttpCode(204)
  @ApiOperation({ summary: 'Unlink an agent from the key (our extension; role service, the key’s team)' })
  @ApiNoContentResponse({ description: 'Unlinked' })
  @ApiResponse({ status: 404, type: ErrorResponse, description: 'No such key, or the agent is not linked to it' })
  async unlink(
    @CurrentPrincipal() actor: Principal,
    @Param('provider') raw: string,
    @KeyUuidParam() uuid: string,
    @AgentUuidParam() agentUuid: string,
    @HttpRequestContext() context: RequestContext,
  ): Promise<void> {
    await this.keys.unlinkAgent(actor, providerOf(raw), uuid, agentUuid, context);
  }
}
