import { DomainError } from './domain-error';

/** Deeper bodies are refused before validation: no request body of this API nests past 3 levels. */
export const MAX_JSON_DEPTH = 32;

/**
 * Property names that JavaScript gives a meaning of their own (prototype pollution). JSON.parse
 * keeps them as ordinary properties, but class-transformer drops them without a word; here they are
 * refused as the unknown fields they are, like any other.
 */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** No field of this API has a longer name; a longer one is refused without being echoed. */
const MAX_PROPERTY_NAME_LENGTH = 100;

const invalid = (field: string, message: string) => new DomainError('VALIDATION_FAILED', message, { field });

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * Parses a JSON request body (its bytes, RFC 8259 section 8.1: UTF-8) and checks what validation
 * cannot: bytes that are not UTF-8 (which a lenient decoder would store as U+FFFD), a body that is
 * not a JSON object (every body of this API is one), nesting deeper than
 * MAX_JSON_DEPTH levels (which overflows the validator's recursion), strings or property names that
 * are not well-formed Unicode (a lone surrogate such as "\ud800", which a store or a client would
 * silently change), and the property names `__proto__`, `constructor` and `prototype`.
 * Throws VALIDATION_FAILED (400) naming the field; `undefined` for an empty body.
 */
export function parseJsonBody(bytes: Buffer): unknown {
  if (bytes.length === 0) return undefined;
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    throw invalid('body', 'the request body is not valid UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid('body', 'malformed JSON in the request body');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid('body', 'the request body must be a JSON object');
  check(value, '', 1);
  return value;
}

function check(value: unknown, path: string, depth: number): void {
  if (typeof value === 'string') {
    if (!value.isWellFormed()) throw invalid(path || 'body', `${path || 'body'} is not well-formed Unicode (it holds a lone surrogate)`);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  if (depth > MAX_JSON_DEPTH) throw invalid('body', `the request body nests deeper than ${MAX_JSON_DEPTH} levels`);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) check(value[i], `${path}[${i}]`, depth + 1);
    return;
  }
  for (const key of Object.keys(value)) {
    const field = path ? `${path}.${key}` : key;
    if (!key.isWellFormed()) throw invalid('body', 'a property name is not well-formed Unicode (it holds a lone surrogate)');
    if (FORBIDDEN_KEYS.has(key)) throw invalid(field, `property ${field} should not exist`);
    if (key.length > MAX_PROPERTY_NAME_LENGTH) throw invalid('body', `a property name is longer than ${MAX_PROPERTY_NAME_LENGTH} characters`);
    check((value as Record<string, unknown>)[key], field, depth + 1);
  }
}

/** The query string's parameters get the same refusal of `__proto__`, `constructor` and `prototype`. */
export function forbiddenQueryParameter(query: unknown): DomainError | null {
  if (query === null || typeof query !== 'object') return null;
  const name = Object.keys(query).find((key) => FORBIDDEN_KEYS.has(key));
  return name === undefined ? null : invalid(name, `property ${name} should not exist`);
}
