import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';

export interface ProviderMock {
  readonly url: string;
  /** Keys the provider accepts; tests add and remove them. */
  readonly validKeys: Set<string>;
  /** Every request's headers, as the provider saw them. */
  readonly requests: Array<{ path: string; headers: http.IncomingHttpHeaders }>;
  /** Answer every request with this status instead (e.g. 500, 429); null: behave normally. */
  failWith: number | null;
  /** Answer every request with exactly this (a redirect, a body that is not a model list); null: behave normally. */
  rawAnswer: { status: number; headers?: Record<string, string>; body: string } | null;
  close(): Promise<void>;
}

/**
 * A local stand-in for the provider's `GET /v1/models`, answering as Anthropic (x-api-key and
 * anthropic-version) or OpenAI (Authorization: Bearer) do, errors included. The real APIs cannot be
 * reached from here, and must not be called with test keys anyway.
 */
export async function startProviderMock(kind: 'anthropic' | 'openai', models: string[]): Promise<ProviderMock> {
  const mock: Omit<ProviderMock, 'url' | 'close'> = { validKeys: new Set(), requests: [], failWith: null, rawAnswer: null };
  const server = http.createServer((req, res) => {
    mock.requests.push({ path: req.url ?? '', headers: req.headers });
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (mock.rawAnswer !== null) {
      res.writeHead(mock.rawAnswer.status, mock.rawAnswer.headers ?? {});
      return res.end(mock.rawAnswer.body);
    }
    if (mock.failWith !== null) return send(mock.failWith, { error: { message: 'overloaded' } });
    if (req.method !== 'GET' || req.url !== '/v1/models') return send(404, { error: { message: 'not found' } });
    if (kind === 'anthropic') {
      const key = req.headers['x-api-key'];
      if (!req.headers['anthropic-version']) {
        return send(400, { type: 'error', error: { type: 'invalid_request_error', message: 'anthropic-version: header is required' } });
      }
      if (typeof key !== 'string' || !mock.validKeys.has(key)) {
        return send(401, { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } });
      }
      return send(200, { data: models.map((id) => ({ type: 'model', id, display_name: id, created_at: '2025-01-01T00:00:00Z' })), has_more: false });
    }
    const key = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (key === undefined || !mock.validKeys.has(key)) {
      // OpenAI echoes part of the key it refused: the service must not pass this body on.
      const shown = key ? `${key.slice(0, 3)}***${key.slice(-4)}` : '';
      return send(401, { error: { message: `Incorrect API key provided: ${shown}.`, type: 'invalid_request_error', code: 'invalid_api_key' } });
    }
    return send(200, { object: 'list', data: models.map((id) => ({ id, object: 'model', created: 1_700_000_000, owned_by: 'system' })) });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return Object.assign(mock, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

/** Every file under `dir` (store files, WAL and journal files, the data-key store) that contains `needle`. */
export function filesContaining(dir: string, needles: readonly string[]): string[] {
  const hits: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath ?? entry.path, entry.name);
    const bytes = fs.readFileSync(file);
    for (const needle of needles) {
      // Plain, and as base64 or hex of the plaintext, in case something re-encoded it.
      const forms = [needle, Buffer.from(needle).toString('base64'), Buffer.from(needle).toString('hex')];
      if (forms.some((form) => bytes.includes(form))) hits.push(`${file}: ${needle.slice(0, 6)}...`);
    }
  }
  return hits;
}
