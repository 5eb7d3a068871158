import { DomainError } from './domain-error';

/** Deeper bodies are refused before validation: no request body of this API nests past 3 levels. */
export const MAX_JSON_DEPTH = 32;

/**
 * Property names that JavaScript gives a meaning of their own (prototype pollution). JSON.parse
 * keeps them as ordinary properties, but class-transformer drops them without a word; here they are
 * refused as the unknown fields they are, like any other.
 */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

const invalid = (field: string, message: string) => new DomainError('VALIDATION_FAILED', message, { field });

/**
 * Parses a JSON request body and checks what validation cannot: nesting deeper than
 * MAX_JSON_DEPTH levels (which overflows the validator's recursion), strings or property names that
 * are not well-formed Unicode (a lone surrogate such as "\ud800", which a store or a client would
 * silently change), and the property names `__proto__`, `constructor` and `prototype`.
 * Throws VALIDATION_FAILED (400) naming the field; `undefined` for an empty body.
 */
export function parseJsonBody(text: string): unknown {
  if (text === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid('body', 'malformed JSON in the request body');
  }
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
    check((value as Record<string, unknown>)[key], field, depth + 1);
  }
}
