import { DomainError } from '../../common/domain-error';
import { ModelScope } from './model-access-key.events';

export const NAME_MAX_LENGTH = 255;

/** The most deployments one key is attached to (Gcore's PATCH takes a set of at most this many). */
export const MAX_DEPLOYMENTS_PER_KEY = 100;

/**
 * Characters no name may hold: C0 and C1 controls and DEL (NUL included), the bidirectional marks,
 * embeddings, overrides and isolates (U+061C, U+200E-U+200F, U+202A-U+202E, U+2066-U+2069; Unicode
 * TR #9 and the "Trojan Source" CVE-2021-42574), the line and paragraph separators, the invisible
 * characters that make look-alike names (U+00AD soft hyphen, U+200B zero width space, U+2060 word
 * joiner, U+FEFF), and U+FFFD-U+FFFF (a replacement character is what a lenient UTF-8 decoder leaves
 * of bytes that were not UTF-8, as gRPC's does).
 * All are BMP and outside the surrogate range, so the class reads the same in ECMA-262 and in
 * Python (which is what a schema-driven client such as Schemathesis generates from).
 */
const FORBIDDEN = '\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u061c\\u200b\\u200e\\u200f\\u2028-\\u202e\\u2060\\u2066-\\u2069\\ufeff\\ufffd-\\uffff';
/** Whitespace as ECMA-262's String.prototype.trim removes it, less U+FEFF (forbidden anyway). */
const SPACE = '\\u0020\\u00a0\\u1680\\u2000-\\u200a\\u202f\\u205f\\u3000';

/**
 * A key name (DigitalOcean's `name`): 1-255 characters, at least one of them not whitespace, none
 * forbidden. Surrounding whitespace is trimmed away before the name is stored.
 */
export const KEY_NAME_PATTERN = `^[^${FORBIDDEN}]*[^${FORBIDDEN}${SPACE}][^${FORBIDDEN}]*$`;

/**
 * A Gcore inference API key's name, which is also its address in the path
 * (`/cloud/v3/inference/{project_id}/api_keys/{api_key_name}`): a key name without `/` or `\`, and
 * not `.` or `..` alone, which standard clients resolve away as dot-segments (RFC 3986, 5.2.4).
 */
export const ADDRESSABLE_NAME_PATTERN = `^(?![${SPACE}]*\\.{1,2}[${SPACE}]*$)[^${FORBIDDEN}/\\\\]*[^${FORBIDDEN}${SPACE}/\\\\][^${FORBIDDEN}/\\\\]*$`;

export type NameKind = 'key' | 'addressable';

const MODEL_ID = new RegExp(KEY_NAME_PATTERN);
export const MODEL_ID_MAX_LENGTH = 200;

/** A model id as a caller gives it: the key-name characters, 1-200 code points (trimmed when stored). */
export function isModelId(raw: unknown): boolean {
  return typeof raw === 'string' && raw.isWellFormed() && MODEL_ID.test(raw) && [...raw].length <= MODEL_ID_MAX_LENGTH;
}

const RULES: Readonly<Record<NameKind, { pattern: RegExp; rule: string }>> = {
  key: {
    pattern: new RegExp(KEY_NAME_PATTERN),
    rule: `name must be 1-${NAME_MAX_LENGTH} characters, not all whitespace, without control characters or bidirectional marks`,
  },
  addressable: {
    pattern: new RegExp(ADDRESSABLE_NAME_PATTERN),
    rule: `name must be 1-${NAME_MAX_LENGTH} characters, not all whitespace, without control characters, bidirectional marks, "/" or "\\", and not "." or ".."`,
  },
};

/** The rule a name of this kind breaks, or null: the one check behind every surface that sets a name. */
export function nameProblem(raw: unknown, kind: NameKind = 'key'): string | null {
  const { pattern, rule } = RULES[kind];
  if (typeof raw !== 'string' || !raw.isWellFormed() || !pattern.test(raw)) return rule;
  // Counted in code points, as JSON Schema's maxLength counts them.
  let length = 0;
  for (const _ of raw) if (++length > NAME_MAX_LENGTH) return rule;
  return null;
}

/**
 * The name as stored: checked (INVALID_NAME otherwise, naming the field), trimmed and in Unicode
 * NFC, so that names that look alike compare equal (uniqueness, confirm_name, lookups by name).
 */
export function normalizeName(raw: string, kind: NameKind = 'key'): string {
  const problem = nameProblem(raw, kind);
  if (problem !== null) throw new DomainError('INVALID_NAME', problem, { field: 'name' });
  return raw.trim().normalize('NFC');
}

/**
 * A new name for an existing key. A key whose name is its address (created through Gcore's API)
 * keeps that rule; since the rule depends on the key, not on the request, breaking it is a 422
 * (NAME_NOT_ADDRESSABLE), while a name that is no key name at all is a 400 (INVALID_NAME).
 */
export function normalizeNewName(raw: string, addressable: boolean): string {
  const name = normalizeName(raw, 'key');
  if (addressable && nameProblem(raw, 'addressable') !== null) {
    throw new DomainError('NAME_NOT_ADDRESSABLE', `this key is addressed by its name in Gcore's API: ${RULES.addressable.rule}`, { field: 'name' });
  }
  return name;
}

/** A name as a caller typed it to confirm, or to find a key by: compared in the stored form. */
export function comparableName(raw: string): string {
  return raw.isWellFormed() ? raw.trim().normalize('NFC') : raw;
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
/** RFC 3339's date-time (section 5.6): seconds and the offset (`Z` or `±hh:mm`) are required. */
const ZONED_DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * An instant a caller gives: a plain date (`2027-01-31`, 00:00 UTC of that day, Gcore's rule) or a
 * date-time with an offset. A date-time without one is refused: read in the host's time zone, the
 * same text would mean another instant on another host. Returns milliseconds since the epoch, or
 * null when the text is neither.
 */
export function parseInstant(raw: string): number | null {
  if (DATE_ONLY.test(raw)) {
    const ms = Date.parse(`${raw}T00:00:00.000Z`);
    return Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== raw ? null : ms;
  }
  if (!ZONED_DATE_TIME.test(raw)) return null;
  const [, month, day, hour, minute, second] = /^\d{4}-(\d{2})-(\d{2}).(\d{2}):(\d{2}):(\d{2})/.exec(raw)!.map(Number);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return null;
  const ms = Date.parse(raw);
  return Number.isNaN(ms) ? null : ms;
}

export const INSTANT_RULE = 'must be a date (YYYY-MM-DD, 00:00 UTC) or a date-time with an offset (e.g. 2027-01-31T10:00:00Z)';

/** The expiry as stored (ISO 8601 in UTC); VALIDATION_FAILED naming the field otherwise. */
export function normalizeExpiry(raw: string, field = 'expires_at'): string {
  const ms = parseInstant(raw);
  if (ms === null) throw new DomainError('VALIDATION_FAILED', `${field} ${INSTANT_RULE}`, { field });
  return new Date(ms).toISOString();
}

export function sameScope(a: ModelScope, b: ModelScope): boolean {
  if (a === 'all' || b === 'all') return a === b;
  return a.length === b.length && a.every((m, i) => m === b[i]);
}

/** Regenerate's overlap is at most 7 days (issue 19): long enough for a weekly deploy, short enough to bound exposure. */
export const MAX_GRACE_PERIOD_SECONDS = 604_800;
