import { Controller, Get, Inject, Query, Req } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiResponse } from '@nestjs/swagger';
import { CurrentPrincipal } from '../auth/auth.guard';
import { Principal } from '../auth/principal';
import { AuthenticatedRoutes } from '../http/authenticated-routes';
import { ErrorResponse } from '../keys/shared/api-key-info.response';
import { KeyUuidParam } from '../keys/shared/key-request.validators';
import { KeyUsageResponse, ProviderKeyUsageResponse, TEAM_USAGE_DEFAULT_PER_PAGE, TeamUsageQueryRequest, TeamUsageResponse, UsageQueryRequest } from './usage-query.request.dto';
import { linkBase, pageLinks } from '../keys/shared/page-links';
import { APP_CONFIG, AppConfig } from '../config/app.config';
import type { FastifyRequest } from 'fastify';
import { UsageReads } from './usage-reads';

/** The usage reads over HTTP (see UsageReads; gRPC: usage-read.grpc.controller.ts). */
@AuthenticatedRoutes('usage', ['owner', 'member', 'auditor'])
@Controller('v1/usage')
export class UsageReadHttpController {
  constructor(
    private readonly reads: UsageReads,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get('keys/:uuid')
  @ApiOperation({ summary: "One key's usage: requests, input and output tokens and denials by code, in buckets" })
  @ApiOkResponse({ type: KeyUsageResponse })
  @ApiResponse({ status: 422, type: ErrorResponse, description: 'USAGE_RANGE_TOO_LONG: the range is longer than its granularity allows (7 days by minute, 400 by hour, 36,600 by day)' })
  @ApiResponse({ status: 404, type: ErrorResponse, description: "Unknown, or not visible to the caller (a deleted key's usage stays readable)" })
  keyUsage(@CurrentPrincipal() actor: Principal, @KeyUuidParam() uuid: string, @Query() query: UsageQueryRequest): Promise<KeyUsageResponse> {
    return this.reads.keyUsage(actor, uuid, query);
  }

  @Get('provider-keys/:uuid')
  @ApiOperation({ summary: "A partner provider key's usage: its plaintext reads in buckets, by the agent each read was for" })
  @ApiOkResponse({ type: ProviderKeyUsageResponse })
  @ApiResponse({ status: 422, type: ErrorResponse, description: 'USAGE_RANGE_TOO_LONG: the range is longer than its granularity allows (7 days by minute, 400 by hour, 36,600 by day)' })
  @ApiResponse({ status: 404, type: ErrorResponse, description: 'Unknown, or not visible to the caller' })
  providerKeyUsage(@CurrentPrincipal() actor: Principal, @KeyUuidParam() uuid: string, @Query() query: UsageQueryRequest): Promise<ProviderKeyUsageResponse> {
    return this.reads.providerKeyUsage(actor, uuid, query);
  }

  @Get()
  @ApiOperation({ summary: "The team's usage per key (the keys the caller may see), with each key's series and totals, paged by key" })
  @ApiOkResponse({ type: TeamUsageResponse })
  @ApiResponse({ status: 422, type: ErrorResponse, description: 'USAGE_RANGE_TOO_LONG: the range is longer than its granularity allows (7 days by minute, 400 by hour, 36,600 by day)' })
  async teamUsage(@CurrentPrincipal() actor: Principal, @Query() query: TeamUsageQueryRequest, @Req() request: FastifyRequest): Promise<TeamUsageResponse> {
    const page = query.page ?? 1;
    const perPage = query.per_page ?? TEAM_USAGE_DEFAULT_PER_PAGE;
    const { total, ...usage } = await this.reads.teamUsage(actor, query, page, perPage);
    // The links carry the range as answered (from and to resolved), so every page is of the same range.
    const range = { from: usage.from, to: usage.to, granularity: usage.granularity };
    return { ...usage, ...pageLinks(linkBase(this.config, request), 'v1/usage', page, perPage, total, range) };
  }
}
