import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, Max, Min } from 'class-validator';
import { KEY_VIEWS, KeyView } from '../projections/key-views.query';

export const DEFAULT_PER_PAGE = 20;
export const MAX_PER_PAGE = 200;

export class ListKeysRequest {
  @ApiPropertyOptional({ minimum: 1, default: 1 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  page?: number;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_PER_PAGE, default: DEFAULT_PER_PAGE })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_PER_PAGE)
  per_page?: number;

  @ApiPropertyOptional({ enum: KEY_VIEWS, description: "My keys, Legacy keys or Team's keys (owners and auditors); absent: all the caller may see" })
  @IsOptional()
  @IsIn(KEY_VIEWS)
  view?: KeyView;
}
