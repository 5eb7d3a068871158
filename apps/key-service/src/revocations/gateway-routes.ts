import { applyDecorators, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiResponse, ApiTags } from '@nestjs/swagger';
import { AllowRoles, BearerAuthGuard } from '../auth/auth.guard';
import { ErrorResponse } from '../keys/shared/api-key-info.response';

/** The routes gateways call, for every team: verification and the revocation feed. Role `gateway` only. */
export function GatewayRoutes(tag: string) {
  return applyDecorators(
    ApiTags(tag),
    ApiBearerAuth(),
    UseGuards(BearerAuthGuard),
    AllowRoles('gateway'),
    ApiResponse({ status: 400, type: ErrorResponse, description: 'Malformed input; the message names the field' }),
    ApiResponse({ status: 401, type: ErrorResponse, description: 'No or bad token' }),
    ApiResponse({ status: 403, type: ErrorResponse, description: 'Not a gateway token' }),
  );
}
