import { Controller, Get, Query, Req } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { CurrentPrincipal } from '../../auth/auth.guard';
import { Principal } from '../../auth/principal';
import { ApiKeyInfoPage, toApiKeyInfo } from '../shared/api-key-info.response';
import { KEYS_PATH, ModelKeyRoutes } from '../shared/key-routes';
import { ListKeysQuery } from './list-keys.query';
import { DEFAULT_PER_PAGE, ListKeysRequest } from './list-keys.request.dto';

@ModelKeyRoutes()
@Controller(KEYS_PATH)
export class ListKeysHttpController {
  constructor(private readonly queries: QueryBus) {}

  @Get()
  @ApiOperation({ summary: 'The keys the caller may see, newest first, paged as DigitalOcean pages' })
  @ApiOkResponse({ type: ApiKeyInfoPage })
  async list(@CurrentPrincipal() actor: Principal, @Query() query: ListKeysRequest, @Req() request: FastifyRequest): Promise<ApiKeyInfoPage> {
    const page = query.page ?? 1;
    const perPage = query.per_page ?? DEFAULT_PER_PAGE;
    const { keys, total } = await this.queries.execute(new ListKeysQuery(actor, query.view, page, perPage));
    const pages = Math.max(1, Math.ceil(total / perPage));
    const link = (p: number) => {
      const params = new URLSearchParams({ page: String(p), per_page: String(perPage), ...(query.view ? { view: query.view } : {}) });
      return `${request.protocol}://${request.host}/${KEYS_PATH}?${params}`;
    };
    return {
      api_key_infos: keys.map((key) => toApiKeyInfo(key)),
      links: {
        pages: {
          first: link(1),
          last: link(pages),
          ...(page < pages ? { next: link(page + 1) } : {}),
          ...(page > 1 ? { previous: link(Math.min(page - 1, pages)) } : {}),
        },
      },
      meta: { page, pages, total },
    };
  }
}
