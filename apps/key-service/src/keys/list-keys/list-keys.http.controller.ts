import { Controller, Get, Inject, Query, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { QueryBus } from '@nestjs/cqrs';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { CurrentPrincipal } from '../../auth/auth.guard';
import { Principal } from '../../auth/principal';
import { APP_CONFIG, AppConfig } from '../../config/app.config';
import { CLOCK, Clock } from '../../common/clock';
import { keyUsageView } from '../../usage/key-usage.view';
import { USAGE_STORE, UsageStore } from '../../usage/usage-store.port';
import { ApiKeyInfoPage, toApiKeyInfo } from '../shared/api-key-info.response';
import { KEYS_PATH, ModelKeyRoutes } from '../shared/key-routes';
import { linkBase, pageLinks } from '../shared/page-links';
import { ListKeysQuery } from './list-keys.query';
import { DEFAULT_PER_PAGE, ListKeysRequest } from './list-keys.request.dto';

@ModelKeyRoutes()
@Controller(KEYS_PATH)
export class ListKeysHttpController {
  constructor(
    private readonly queries: QueryBus,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(USAGE_STORE) private readonly usage: UsageStore,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @Get()
  @ApiOperation({ summary: 'The keys the caller may see, newest first, paged as DigitalOcean pages' })
  @ApiOkResponse({ type: ApiKeyInfoPage })
  async list(@CurrentPrincipal() actor: Principal, @Query() query: ListKeysRequest, @Req() request: FastifyRequest): Promise<ApiKeyInfoPage> {
    const page = query.page ?? 1;
    const perPage = query.per_page ?? DEFAULT_PER_PAGE;
    const { keys, total } = await this.queries.execute(new ListKeysQuery(actor, query.view, page, perPage));
    const nowMs = this.clock.now().getTime();
    const usage = await Promise.all(keys.map((key) => keyUsageView(this.usage, key, nowMs)));
    return {
      api_key_infos: keys.map((key, index) => toApiKeyInfo(key, undefined, usage[index])),
      ...pageLinks(linkBase(this.config, request), KEYS_PATH, page, perPage, total, query.view ? { view: query.view } : {}),
    };
  }
}
