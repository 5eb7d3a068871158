import { Controller, Get, Query } from '@nestjs/common';
import { AuthenticatedRoutes } from '../http/authenticated-routes';
import { ApiOkResponse, ApiOperation, ApiResponse } from '@nestjs/swagger';
import { CurrentPrincipal } from '../auth/auth.guard';
import { Principal } from '../auth/principal';
import { ErrorResponse } from '../keys/shared/api-key-info.response';
import { KeyUuidParam } from '../keys/shared/key-request.validators';
import { AuditQuery, KeyChainReport, KeyStateAt } from './audit.query';
import { AuditEventsResponse, KeyChainResponse, KeyEventsResponse, KeyStateRequest, KeyStateResponse, TeamEventsRequest } from './audit.request.dto';

/** The audit trail of the caller's own team: owners and auditors only. */
@AuthenticatedRoutes('audit', ['owner', 'auditor'], 'Not an owner or auditor')
@Controller('v1/audit')
export class AuditHttpController {
  constructor(private readonly audit: AuditQuery) {}

  @Get('keys/:uuid/events')
  @ApiOperation({ summary: "A key's whole history, deleted keys included, with metadata, revision, position and hash" })
  @ApiOkResponse({ type: KeyEventsResponse })
  @ApiResponse({ status: 404, type: ErrorResponse, description: 'No such key in the caller’s team' })
  async keyEvents(@CurrentPrincipal() actor: Principal, @KeyUuidParam() uuid: string): Promise<KeyEventsResponse> {
    return { events: await this.audit.keyHistory(actor, uuid) };
  }

  @Get('keys/:uuid/state')
  @ApiOperation({ summary: 'The key as it was at as_of, folded from its events recorded up to then' })
  @ApiOkResponse({ type: KeyStateResponse })
  @ApiResponse({ status: 404, type: ErrorResponse, description: 'No such key in the caller’s team' })
  keyState(@CurrentPrincipal() actor: Principal, @KeyUuidParam() uuid: string, @Query() query: KeyStateRequest): Promise<KeyStateAt> {
    return this.audit.keyStateAt(actor, uuid, new Date(query.as_of));
  }

  @Get('keys/:uuid/chain')
  @ApiOperation({ summary: "The key's hash chain as stored now: every hash recomputed, every link checked; the first break if any" })
  @ApiOkResponse({ type: KeyChainResponse })
  @ApiResponse({ status: 404, type: ErrorResponse, description: 'No such key in the caller’s team' })
  keyChain(@CurrentPrincipal() actor: Principal, @KeyUuidParam() uuid: string): Promise<KeyChainReport> {
    return this.audit.keyChain(actor, uuid);
  }

  @Get('events')
  @ApiOperation({ summary: "The team's events in global order, paged by position, filtered by type and actor" })
  @ApiOkResponse({ type: AuditEventsResponse })
  async teamEvents(@CurrentPrincipal() actor: Principal, @Query() query: TeamEventsRequest): Promise<AuditEventsResponse> {
    const after = query.after ?? 0;
    const limit = query.limit ?? 100;
    const events = await this.audit.teamEvents(actor.teamId, { after, limit, type: query.type, actor: query.actor });
    return { events, next_after: events.length > 0 ? events[events.length - 1].position : after };
  }
}
