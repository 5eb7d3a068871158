import { ParseUUIDPipe, Param, applyDecorators } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsISO8601, IsOptional, IsString, MaxLength, ValidateBy, ValidateIf, ValidationOptions } from 'class-validator';
import { DomainError } from '../../common/domain-error';

export const DEPLOYMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const DEPLOYMENT_NAME_RULE = 'deployment_name must be 1-128 letters, digits, dots, underscores or hyphens, starting with a letter or digit';

/** "all", or a non-empty list of model ids. */
export function IsModelScope(options?: ValidationOptions) {
  return ValidateBy(
    {
      name: 'isModelScope',
      validator: {
        validate: (value: unknown) =>
          value === 'all' ||
          (Array.isArray(value) &&
            value.length > 0 &&
            value.length <= 500 &&
            value.every((m) => typeof m === 'string' && m.trim().length > 0 && m.length <= 200)),
        defaultMessage: () => 'models must be "all" or a non-empty list of model ids (strings of 1-200 characters)',
      },
    },
    options,
  );
}

export const Trim = () => Transform(({ value }) => (typeof value === 'string' ? value.trim() : value));

/** The key uuid of the path; a malformed one is a 400 naming the parameter. */
export const KeyUuidParam = () =>
  Param(
    'uuid',
    new ParseUUIDPipe({
      exceptionFactory: () => new DomainError('VALIDATION_FAILED', 'api_key_uuid must be a UUID', { field: 'api_key_uuid' }),
    }),
  );

export function assertUuid(value: string, field = 'api_key_uuid'): string {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)) {
    throw new DomainError('VALIDATION_FAILED', `${field} must be a UUID`, { field });
  }
  return value.toLowerCase();
}

/** An optional description: a string of up to 1,024 characters, or null. */
export const DescriptionField = () =>
  applyDecorators(
    ApiPropertyOptional({ maxLength: 1024, nullable: true }),
    IsOptional(),
    ValidateIf((_, value) => value !== null),
    IsString(),
    MaxLength(1024),
  );

/** An optional expiry: an ISO-8601 date (00:00 UTC of that day) or timestamp, or null for never. */
export const ExpiresAtField = (description: string) =>
  applyDecorators(
    ApiPropertyOptional({ example: '2027-01-31', nullable: true, description }),
    IsOptional(),
    ValidateIf((_, value) => value !== null),
    IsISO8601({ strict: true }),
  );
