import { errors } from 'undici';
import { ServiceEndpoints, isInstanceFailure, maskUrl, parseBaseUrl } from './service-endpoints';

describe('ServiceEndpoints', () => {
  const urls = ['http://keys-a:8080', 'http://keys-b:8080/', 'https://keys-c'];

  it('starts at the first instance and moves round the list, once per failure of the current one', () => {
    const endpoints = new ServiceEndpoints(urls);
    const moves: string[] = [];
    endpoints.onMove((from, to, reason) => moves.push(`${from} -> ${to} (${reason})`));
    expect(endpoints.current).toBe('http://keys-a:8080');
    expect(endpoints.inOrder()).toEqual(['http://keys-a:8080', 'http://keys-b:8080', 'https://keys-c']);
    endpoints.failed('http://keys-a:8080', 'refused');
    // A second caller that saw the same death changes nothing.
    endpoints.failed('http://keys-a:8080', 'refused too');
    expect(endpoints.current).toBe('http://keys-b:8080');
    expect(endpoints.inOrder()).toEqual(['http://keys-b:8080', 'https://keys-c', 'http://keys-a:8080']);
    endpoints.failed('http://keys-b:8080', '503');
    endpoints.failed('https://keys-c', 'timed out');
    expect(endpoints.current).toBe('http://keys-a:8080');
    expect(endpoints.moves).toBe(3);
    expect(moves).toEqual([
      'http://keys-a:8080 -> http://keys-b:8080 (refused)',
      'http://keys-b:8080 -> https://keys-c (503)',
      'https://keys-c -> http://keys-a:8080 (timed out)',
    ]);
  });

  it('never moves with one instance', () => {
    const endpoints = new ServiceEndpoints(['http://keys:8080']);
    endpoints.failed('http://keys:8080', 'refused');
    expect([endpoints.current, endpoints.moves]).toEqual(['http://keys:8080', 0]);
  });
});

describe('isInstanceFailure', () => {
  it('counts an unreachable, silent or unready instance, not an answer that any instance would give', () => {
    expect([502, 503, 504].map(isInstanceFailure)).toEqual([true, true, true]);
    expect([200, 400, 401, 404, 429, 500].map(isInstanceFailure)).toEqual([false, false, false, false, false, false]);
    expect(isInstanceFailure(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isInstanceFailure(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isInstanceFailure(new errors.HeadersTimeoutError())).toBe(true);
    expect(isInstanceFailure(new errors.BodyTimeoutError())).toBe(true);
    expect(isInstanceFailure(new errors.ConnectTimeoutError())).toBe(true);
    expect(isInstanceFailure(new errors.SocketError('other side closed'))).toBe(true);
    expect(isInstanceFailure(new errors.RequestAbortedError())).toBe(false);
    expect(isInstanceFailure(new SyntaxError('Unexpected token'))).toBe(false);
  });
});

describe('maskUrl: what an error may show of a URL', () => {
  it('hides the user, the password, the query and the fragment', () => {
    expect(maskUrl('http://tok_abcdef@127.0.0.1:19400/v1')).toBe('http://***@127.0.0.1:19400/v1');
    expect(maskUrl('http://user:pw@h/p?api_key=sk-secret123#frag')).toBe('http://***:***@h/p?***#***');
    expect(maskUrl('https://h:8443/')).toBe('https://h:8443/');
  });

  it('finds the same parts in text that is not a URL', () => {
    expect(maskUrl('redis//:redispw4321@x')).toBe('redis//***@x');
    expect(maskUrl('nonsense?token=abc')).toBe('nonsense?***');
  });

  it('parseBaseUrl never repeats a token from the query or the user part', () => {
    expect(() => parseBaseUrl('http://127.0.0.1:1/v?api_key=sk-secret123', 'UPSTREAM_URL', 'the upstream')).toThrow(/UPSTREAM_URL: "http:\/\/127\.0\.0\.1:1\/v\?\*\*\*" must not carry/);
    expect(() => parseBaseUrl('http://tok_abcdef@127.0.0.1:1', 'UPSTREAM_URL', 'the upstream')).not.toThrow(/tok_abcdef/);
  });
});
