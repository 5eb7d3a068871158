import { ApiProperty } from '@nestjs/swagger';
import { IsString, Matches } from 'class-validator';
import { DEPLOYMENT_NAME, DEPLOYMENT_NAME_RULE } from '../shared/key-request.validators';

export class AttachDeploymentRequest {
  @ApiProperty({ pattern: DEPLOYMENT_NAME.source, example: 'llama-3-8b-prod' })
  @IsString()
  @Matches(DEPLOYMENT_NAME, { message: DEPLOYMENT_NAME_RULE })
  deployment_name!: string;
}
