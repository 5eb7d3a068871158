import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, Max, Min } from 'class-validator';
import { MAX_GRACE_PERIOD_SECONDS } from '../domain/key-input.rules';
import { ConfirmNameRequest } from '../shared/confirm-name.request.dto';
import { Optional } from '../shared/key-request.validators';

/**
 * PUT .../regenerate: DigitalOcean's clients send no body; `confirm_name` is the control panel's
 * typed name; `grace_period_seconds` is our extension (issue 19).
 */
export class RegenerateKeyRequest extends ConfirmNameRequest {
  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    maximum: MAX_GRACE_PERIOD_SECONDS,
    default: 0,
    description:
      'Seconds during which the old secret keeps authenticating beside the new one (our extension). ' +
      "0, the default, is DigitalOcean's behaviour: the old secret stops at once. At the end the old secret " +
      'is revoked on the revocation feed; regenerating again during an overlap ends it at once.',
  })
  @Optional()
  @IsInt()
  @Min(0)
  @Max(MAX_GRACE_PERIOD_SECONDS)
  grace_period_seconds?: number;
}
