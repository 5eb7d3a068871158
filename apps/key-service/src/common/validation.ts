import { ValidationError, ValidationPipe } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { DomainError } from './domain-error';

const OPTIONS = { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: true } as const;

/** The first failing field, named, e.g. "name must be a string". */
export function validationFailure(errors: ValidationError[], parent = ''): DomainError {
  const first = errors[0];
  const field = parent ? `${parent}.${first.property}` : first.property;
  if (first.children && first.children.length > 0 && !first.constraints) return validationFailure(first.children, field);
  // Each of the field's messages names it by its whole path ("records.0.requests must be ...; records.0.requests must not be ...").
  const messages = Object.values(first.constraints ?? {}).map((m) => (m.startsWith(first.property) ? m.replace(first.property, field) : `${field}: ${m}`));
  const message = messages.length > 0 ? messages.join('; ') : `${field} is invalid`;
  return new DomainError('VALIDATION_FAILED', message, { field });
}

export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    ...OPTIONS,
    transform: true,
    exceptionFactory: (errors) => validationFailure(errors),
  });
}

/** The same rules for transports that do not go through the pipe (gRPC). */
export function validateInput<T extends object>(type: new () => T, plain: unknown): T {
  if (plain === null || typeof plain !== 'object' || Array.isArray(plain)) {
    throw new DomainError('VALIDATION_FAILED', 'the request body must be a JSON object', { field: 'body' });
  }
  const instance = plainToInstance(type, plain);
  const errors = validateSync(instance, OPTIONS);
  if (errors.length > 0) throw validationFailure(errors);
  return instance;
}
