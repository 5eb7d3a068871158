import secureJsonParse from 'secure-json-parse';

/**
 * An error answer of the gateway, in OpenAI's shape: the HTTP status and
 * `{"error": {"message", "type", "param", "code"}}`, where `param` names the request field at fault
 * (null when none) and `code` is a short machine-readable reason (null when none).
 */
export interface ErrorAnswer {
  readonly status: number;
  readonly body: { readonly error: { readonly message: string; readonly type: string; readonly param: string | null; readonly code: string | null } };
}

export function errorAnswer(status: number, type: string, message: string, code: string | null = type, param: string | null = null): ErrorAnswer {
  return { status, body: { error: { message, type, param, code } } };
}

const invalidRequest = (status: number, message: string, code: string | null, param: string | null = null) => errorAnswer(status, 'invalid_request_error', message, code, param);

/** Raised by parseJsonBody for a body carrying `__proto__` (or `constructor.prototype`): prototype poisoning. */
export class PrototypePoisoningError extends Error {
  readonly statusCode = 400;
  readonly code = 'GATEWAY_PROTOTYPE_POISONING';
}

/**
 * A JSON request body (its bytes, UTF-8) parsed as Fastify's own parser does (secure-json-parse),
 * except that a body carrying a `__proto__` key, or a `constructor` with a `prototype`, throws
 * PrototypePoisoningError rather than passing for malformed JSON. An empty body is `undefined`
 * (then refused by requestBodyProblem, as a body that is not an object); malformed JSON throws
 * secure-json-parse's SyntaxError.
 */
export function parseJsonBody(bytes: Buffer): unknown {
  if (bytes.length === 0) return undefined;
  try {
    return secureJsonParse(bytes, null, { protoAction: 'error', constructorAction: 'error' });
  } catch (error) {
    if (error instanceof SyntaxError && /forbidden (prototype|constructor) property/.test(error.message)) throw new PrototypePoisoningError(error.message);
    throw error;
  }
}

/**
 * What is wrong with a parsed request body, before the key is verified or anything is forwarded;
 * null when nothing is. Every route of the gateway takes a JSON object. `stream` must be a boolean and
 * `stream_options` an object or null, as OpenAI requires: an upstream that coerced `"stream": 1` or
 * `"true"` to true would stream without the usage chunk the gateway asks for (`stream_options`), and
 * the answer's tokens would go uncharged.
 */
export function requestBodyProblem(body: unknown): ErrorAnswer | null {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return invalidRequest(400, `the request body must be a JSON object (got ${describe(body)})`, 'invalid_type', 'body');
  }
  const { stream, stream_options: streamOptions } = body as { stream?: unknown; stream_options?: unknown };
  if (stream !== undefined && typeof stream !== 'boolean') {
    return invalidRequest(400, `Invalid type for 'stream': stream must be a boolean (true or false), got ${describe(stream)}`, 'invalid_type', 'stream');
  }
  if (streamOptions !== undefined && streamOptions !== null && (typeof streamOptions !== 'object' || Array.isArray(streamOptions))) {
    return invalidRequest(400, `Invalid type for 'stream_options': stream_options must be an object or null, got ${describe(streamOptions)}`, 'invalid_type', 'stream_options');
  }
  return null;
}

function describe(value: unknown): string {
  if (value === undefined) return 'no body';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** OpenAI's answer to a path (or a method on it) that no route serves; the query string is not echoed. */
export function notFoundAnswer(method: string, url: string): ErrorAnswer {
  const path = url.split('?')[0].slice(0, 200);
  return invalidRequest(404, `Invalid URL (${method} ${path})`, 'unknown_url');
}

/**
 * The answer to an error raised outside a route's own answers: Fastify's (the body parser, the body
 * limit, the content type) and anything unexpected. `bodyLimitBytes` is the body limit the 413 names.
 * A 5xx, or an error that is not Fastify's, is a 500 with a generic message: its text is for the log.
 */
export function errorToAnswer(error: { readonly code?: unknown; readonly statusCode?: unknown; readonly message?: unknown }, bodyLimitBytes: number): ErrorAnswer {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return invalidRequest(415, 'the request body must be JSON, sent with Content-Type: application/json', 'unsupported_media_type', 'content-type');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return invalidRequest(413, `the request body is larger than ${bodyLimitBytes} bytes`, 'request_too_large', 'body');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return invalidRequest(400, 'the request body is not as long as its Content-Length says', 'invalid_content_length', 'body');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return invalidRequest(400, 'the request body must be a JSON object (got no body)', 'invalid_type', 'body');
    case 'GATEWAY_PROTOTYPE_POISONING':
      return invalidRequest(400, 'the request body holds a "__proto__" or "constructor.prototype" property (prototype poisoning): refused', 'invalid_json', 'body');
  }
  if (error instanceof SyntaxError || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return invalidRequest(400, 'the request body is not valid JSON', 'invalid_json', 'body');
  }
  const status = typeof error.statusCode === 'number' ? error.statusCode : 500;
  if (status >= 400 && status < 500 && typeof error.code === 'string' && error.code.startsWith('FST_')) {
    // Another refusal of Fastify's: its message says what is wrong with the request, and holds no internals.
    return invalidRequest(status, String(error.message), null);
  }
  return errorAnswer(500, 'server_error', 'the gateway failed to handle the request', 'internal_error');
}
