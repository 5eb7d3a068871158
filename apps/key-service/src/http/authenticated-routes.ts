import { UseGuards, applyDecorators } from '@nestjs/common';
import { ApiBearerAuth, ApiResponse, ApiTags } from '@nestjs/swagger';
import { AllowRoles, BearerAuthGuard } from '../auth/auth.guard';
import { Role } from '../auth/principal';
import { ErrorResponse } from '../keys/shared/api-key-info.response';

/**
 * What every authenticated controller shares: its OpenAPI tag, the bearer token check for the roles
 * that may call it at all, and the documented 400, 401 and 403 answers.
 */
export function AuthenticatedRoutes(tag: string, roles: readonly Role[], forbidden = 'The role may not do this') {
  return applyDecorators(
    ApiTags(tag),
    ApiBearerAuth(),
    UseGuards(BearerAuthGuard),
    AllowRoles(...roles),
    ApiResponse({ status: 400, type: ErrorResponse, description: 'Malformed input; the message names the field' }),
    ApiResponse({ status: 401, type: ErrorResponse, description: 'No or bad token' }),
    ApiResponse({ status: 403, type: ErrorResponse, description: forbidden }),
  );
}
