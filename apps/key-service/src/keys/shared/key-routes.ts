import { applyDecorators, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiResponse, ApiTags } from '@nestjs/swagger';
import { AllowRoles, BearerAuthGuard } from '../../auth/auth.guard';
import { ErrorResponse } from './api-key-info.response';

export const KEYS_PATH = 'v2/gen-ai/models/api_keys';
export const GRPC_SERVICE = 'ModelAccessKeys';

/** What every model-key route shares: bearer auth for the management roles, and the error shape. */
export function ModelKeyRoutes() {
  return applyDecorators(
    ApiTags('model access keys'),
    ApiBearerAuth(),
    UseGuards(BearerAuthGuard),
    AllowRoles('owner', 'member', 'auditor'),
    ApiResponse({ status: 400, type: ErrorResponse, description: 'Malformed input; the message names the field' }),
    ApiResponse({ status: 401, type: ErrorResponse, description: 'No or bad token' }),
    ApiResponse({ status: 403, type: ErrorResponse, description: 'The role may not do this' }),
  );
}
