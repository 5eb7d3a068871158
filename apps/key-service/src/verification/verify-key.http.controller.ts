import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { GatewayRoutes } from '../revocations/gateway-routes';
import { VerificationLookup, Verdict } from './verification.lookup';
import { VerifyKeyRequest, VerifyKeyResponse } from './verify-key.request.dto';

@GatewayRoutes('key verification')
@Controller('v1/keys')
export class VerifyKeyHttpController {
  constructor(private readonly lookup: VerificationLookup) {}

  @Post('verify')
  @HttpCode(200)
  @ApiOperation({ summary: 'May this secret make this call? Always 200; the code says why not' })
  @ApiOkResponse({ type: VerifyKeyResponse })
  verify(@Body() body: VerifyKeyRequest): VerifyKeyResponse {
    return toVerifyResponse(
      this.lookup.verify(body.key, {
        model: body.model,
        vpcUuid: body.vpc_uuid,
        deploymentName: body.deployment_name,
        batch: body.batch,
      }),
    );
  }
}

export function toVerifyResponse({ code, grant }: Verdict): VerifyKeyResponse {
  if (!grant) return { valid: false, code };
  return { valid: code === 'VALID', code, key_uuid: grant.keyUuid, team_id: grant.teamId, expires_at: grant.expiresAt };
}
