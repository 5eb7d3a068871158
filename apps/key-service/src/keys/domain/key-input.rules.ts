import { DomainError } from '../../common/domain-error';
import { ModelScope } from './model-access-key.events';

export const NAME_MAX_LENGTH = 255;

export function normalizeName(raw: string): string {
  const name = raw.trim();
  if (name.length < 1 || name.length > NAME_MAX_LENGTH) {
    throw new DomainError('INVALID_NAME', `name must be 1-${NAME_MAX_LENGTH} characters after trimming`, { field: 'name' });
  }
  return name;
}

export function normalizeModels(models: ModelScope): ModelScope {
  if (models === 'all') return 'all';
  const unique = [...new Set(models.map((m) => m.trim()))];
  if (unique.length === 0 || unique.some((m) => m.length === 0 || m.length > 200)) {
    throw new DomainError('INVALID_MODELS', 'models must be "all" or a non-empty list of model ids', { field: 'models' });
  }
  return unique.sort();
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/** A date alone means 00:00 UTC of that day (Gcore's rule); a timestamp is taken as given. */
export function normalizeExpiry(raw: string): string {
  const instant = DATE_ONLY.test(raw) ? new Date(`${raw}T00:00:00.000Z`) : new Date(raw);
  if (Number.isNaN(instant.getTime())) {
    throw new DomainError('VALIDATION_FAILED', 'expires_at must be an ISO-8601 date or timestamp', { field: 'expires_at' });
  }
  return instant.toISOString();
}

export function sameScope(a: ModelScope, b: ModelScope): boolean {
  if (a === 'all' || b === 'all') return a === b;
  return a.length === b.length && a.every((m, i) => m === b[i]);
}
