import { ParseUUIDPipe, Param, applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsString, MaxLength, ValidateBy, ValidateIf, ValidationOptions } from 'class-validator';
import { DomainError } from '../../common/domain-error';
import { ADDRESSABLE_NAME_PATTERN, INSTANT_RULE, isModelId, KEY_NAME_PATTERN, NAME_MAX_LENGTH, NameKind, nameProblem, parseInstant } from '../domain/key-input.rules';

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
            value.every(isModelId)),
        defaultMessage: () =>
          'models must be "all" or a non-empty list of model ids (1-200 characters, not all whitespace, without control characters or bidirectional marks)',
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
    // Stored uuids are lower-case; RFC 9562 compares them without regard to case.
    { transform: (value: string) => value.toLowerCase() },
  );

export function assertUuid(value: string, field = 'api_key_uuid'): string {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)) {
    throw new DomainError('VALIDATION_FAILED', `${field} must be a UUID`, { field });
  }
  return value.toLowerCase();
}

/**
 * A body field that may be left out. Unlike class-validator's IsOptional, `null` is not "left out":
 * it is validated like any other value and refused unless the field also declares itself nullable
 * (`Nullable()`), so a null never reaches a handler that does not expect one.
 */
export const Optional = () => ValidateIf((_, value) => value !== undefined);

/** The field accepts null (for "none" or "never"); the other rules apply to any other value. */
export const Nullable = () => ValidateIf((_, value) => value !== null);

/**
 * A key's name in a request: one rule per kind of name (`nameProblem`), the same the domain applies
 * on every surface, and stated in the OpenAPI document as a pattern and a length in code points.
 */
export function NameField(kind: NameKind, options: { optional?: boolean; nullable?: boolean; description?: string; example?: string } = {}) {
  const documented = {
    minLength: 1,
    maxLength: NAME_MAX_LENGTH,
    pattern: kind === 'key' ? KEY_NAME_PATTERN : ADDRESSABLE_NAME_PATTERN,
    example: options.example,
    description: options.description,
    ...(options.nullable ? { nullable: true, type: String } : {}),
  };
  return applyDecorators(
    options.optional ? ApiPropertyOptional(documented) : ApiProperty(documented),
    ...(options.optional ? [Optional()] : []),
    ...(options.nullable ? [Nullable()] : []),
    IsString(),
    ValidateBy({
      name: 'isName',
      validator: {
        validate: (value: unknown) => nameProblem(value, kind) === null,
        defaultMessage: () => nameProblem(undefined, kind)!,
      },
    }),
  );
}

/** A date (00:00 UTC of that day) or a date-time with an offset; a date-time without one is refused. */
export function IsInstant(options?: ValidationOptions) {
  return ValidateBy(
    {
      name: 'isInstant',
      validator: {
        validate: (value: unknown) => typeof value === 'string' && parseInstant(value) !== null,
        defaultMessage: (args) => `${args?.property ?? 'value'} ${INSTANT_RULE}`,
      },
    },
    options,
  );
}

/** How an instant is documented: RFC 3339's full-date or date-time (which requires the offset). */
export const INSTANT_SCHEMA = { type: String, oneOf: [{ type: 'string', format: 'date' }, { type: 'string', format: 'date-time' }] };

/** An optional description: a string of up to 1,024 characters, or null. */
export const DescriptionField = () =>
  applyDecorators(ApiPropertyOptional({ type: String, maxLength: 1024, nullable: true }), Optional(), Nullable(), IsString(), MaxLength(1024));

/** An optional expiry: a date (00:00 UTC of that day) or a date-time with an offset, or null for never. */
export const ExpiresAtField = (description: string) =>
  applyDecorators(
    ApiPropertyOptional({ ...INSTANT_SCHEMA, example: '2027-01-31', nullable: true, description }),
    Optional(),
    Nullable(),
    IsInstant(),
  );
