import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { IntegerField, MAX_PAGE } from '../../common/bounds';
import { KEY_VIEWS, KeyView } from '../key-views.query';

export const DEFAULT_PER_PAGE = 20;
export const MAX_PER_PAGE = 200;

export class ListKeysRequest {
  @IntegerField({ minimum: 1, maximum: MAX_PAGE, default: 1 })
  page?: number;

  @IntegerField({ minimum: 1, maximum: MAX_PER_PAGE, default: DEFAULT_PER_PAGE })
  per_page?: number;

  @ApiPropertyOptional({ enum: KEY_VIEWS, description: "My keys, Legacy keys or Team's keys (owners and auditors); absent: all the caller may see" })
  @IsOptional()
  @IsIn(KEY_VIEWS)
  view?: KeyView;
}
