import { randomBytes, randomUUID } from 'node:crypto';
import * as http from 'node:http';
import { ProviderMock, startProviderMock } from '../../../../test/support/provider-mock';
import { KEYS, TestApp, startTestApp } from '../../../../test/support/test-app';

const UUID = randomUUID();
const GCORE = '/cloud/v3/inference/team-1/api_keys';
const ANTHROPIC = '/v2/gen-ai/anthropic/keys';
const OPENAI = '/v2/gen-ai/openai/keys';
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** Every route the service serves, by a concrete path, with the methods it answers. */
const ROUTES: ReadonlyArray<readonly [string, string]> = [
  [KEYS, 'GET, HEAD, POST'],
  [`${KEYS}?page=2&per_page=5`, 'GET, HEAD, POST'],
  [`${KEYS}/${UUID}`, 'GET, HEAD, PUT, DELETE'],
  [`${KEYS}/${UUID}/regenerate`, 'PUT'],
  [`${KEYS}/${UUID}/deployments`, 'POST'],
  [`${KEYS}/${UUID}/deployments/llama-prod`, 'DELETE'],
  [ANTHROPIC, 'GET, HEAD, POST'],
  [`${OPENAI}/${UUID}`, 'GET, HEAD, PUT, DELETE'],
  [`/internal/provider-keys/${UUID}/secret`, 'GET, HEAD'],
  [GCORE, 'GET, HEAD, POST'],
  [`${GCORE}/prod-edge`, 'GET, HEAD, PATCH, DELETE'],
  ['/v1/keys/verify', 'POST'],
  ['/v1/revocations', 'GET, HEAD'],
  ['/v1/revocations/stream', 'GET, HEAD'],
  [`/v1/audit/keys/${UUID}/events`, 'GET, HEAD'],
  [`/v1/audit/keys/${UUID}/state`, 'GET, HEAD'],
  [`/v1/audit/keys/${UUID}/chain`, 'GET, HEAD'],
  ['/v1/audit/events', 'GET, HEAD'],
  ['/openapi.json', 'GET, HEAD'],
  ['/openapi.yaml', 'GET, HEAD'],
  ['/docs', 'GET, HEAD'],
  ['/docs/swagger-ui.css', 'GET, HEAD'],
  ['/healthz', 'GET, HEAD'],
  ['/readyz', 'GET, HEAD'],
  ['/console', 'GET, HEAD'],
  ['/console/', 'GET, HEAD'],
  ['/console/assets/x.js', 'GET, HEAD'],
  ['/v1/console/config', 'GET, HEAD'],
  ['/v1/console/dev-token', 'POST'],
];

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: any;
}

/** A request over a real socket, with exactly these headers: fetch would add a content type of its own. */
function send(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: '127.0.0.1', port, method, path, headers }, (response) => {
      if (String(response.headers['content-type']).startsWith('text/event-stream')) {
        request.destroy(); // the revocation stream does not end: its headers are the answer
        return resolve({ status: response.statusCode ?? 0, headers: response.headers, body: undefined });
      }
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (text += chunk));
      const json = String(response.headers['content-type']).startsWith('application/json');
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: json && text ? JSON.parse(text) : text }));
    });
    request.on('error', (error) => (request.destroyed ? undefined : reject(error)));
    if (body !== undefined) request.setHeader('content-length', Buffer.byteLength(body));
    request.end(body);
  });
}

describe('HTTP semantics', () => {
  let t: TestApp;
  let port: number;
  let owner: string;
  let anthropic: ProviderMock;
  let openai: ProviderMock;

  beforeAll(async () => {
    anthropic = await startProviderMock('anthropic', ['claude-sonnet-4-5']);
    openai = await startProviderMock('openai', ['gpt-4o']);
  });
  afterAll(async () => {
    await anthropic.close();
    await openai.close();
  });

  const boot = async (env: NodeJS.ProcessEnv = {}) => {
    t = await startTestApp({ env: { ANTHROPIC_API_BASE_URL: anthropic.url, OPENAI_API_BASE_URL: openai.url, ...env } });
    await t.app.listen(0, '127.0.0.1');
    port = (t.app.getHttpServer().address() as { port: number }).port;
    owner = t.token('team-1', 'u1', 'owner');
  };
  afterEach(() => t.close());
  const auth = () => ({ authorization: `Bearer ${owner}` });

  describe('methods', () => {
    beforeEach(() => boot());

    it('an unknown path answers 404 without echoing the path or query (they may hold a pasted secret)', async () => {
      const secret = 'mak_Nk-LJBRQy3U1pWBuNvCrysWF8kMfHnn9bUYmqXk_MLk';
      const answer = await t.call('GET', `/nope/${secret}?x=${secret}`, { token: owner });
      expect(answer.status).toBe(404);
      expect(answer.body).toMatchObject({ id: 'not_found', message: 'no route for GET at this path' });
      expect(JSON.stringify(answer.body)).not.toContain('mak_');
    });

    it('a method a known path does not serve answers 405 with Allow and the usual error body, on every route', async () => {
      for (const [path, allow] of ROUTES) {
        for (const method of METHODS.filter((m) => !allow.split(', ').includes(m))) {
          const answer = await send(port, method, path);
          expect({ path, method, status: answer.status, allow: answer.headers.allow }).toEqual({ path, method, status: 405, allow });
          if (method === 'HEAD') continue;
          expect(answer.body).toEqual({
            id: 'method_not_allowed',
            message: `${method} is not allowed on this path; it allows ${allow}`,
            request_id: answer.headers['x-request-id'],
            code: 'METHOD_NOT_ALLOWED',
          });
        }
      }
    });

    it('the methods a path serves are not refused as 405', async () => {
      for (const [path, allow] of ROUTES) {
        for (const method of allow.split(', ')) {
          const answer = await send(port, method, path, { ...auth(), 'x-confirm-name': 'x' });
          expect({ path, method, status: answer.status }).not.toEqual({ path, method, status: 405 });
        }
      }
    });

    it('405 comes before authentication and before the body is looked at', async () => {
      const withBody = await send(port, 'PATCH', `${KEYS}/${UUID}`, { 'content-type': 'text/plain' }, 'name=x');
      expect(withBody.status).toBe(405);
      expect(withBody.headers.allow).toBe('GET, HEAD, PUT, DELETE');
      const noType = await send(port, 'DELETE', '/v1/keys/verify', {}, '{"key":"mak_x"}');
      expect(noType.status).toBe(405);
    });

    it('an unknown path is still 404, without Allow', async () => {
      for (const path of ['/v2/gen-ai/nothing', '/v1/keys/verify/more', `${KEYS}/${UUID}/regenerate/now`, '/']) {
        const answer = await send(port, 'POST', path, auth());
        expect({ path, status: answer.status, allow: answer.headers.allow }).toEqual({ path, status: 404, allow: undefined });
        expect(answer.body).toMatchObject({ id: 'not_found', code: 'NOT_FOUND' });
      }
    });
  });

  describe('request bodies', () => {
    beforeEach(() => boot());

    const BODY_ROUTES: ReadonlyArray<readonly [string, string, unknown]> = [
      ['POST', KEYS, { name: 'k' }],
      ['PUT', `${KEYS}/${UUID}`, { name: 'k2' }],
      ['PUT', `${KEYS}/${UUID}/regenerate`, { confirm_name: 'k' }],
      ['DELETE', `${KEYS}/${UUID}`, { confirm_name: 'k' }],
      ['POST', `${KEYS}/${UUID}/deployments`, { deployment_name: 'llama-prod' }],
      ['DELETE', `${KEYS}/${UUID}/deployments/llama-prod`, {}],
      ['POST', GCORE, { name: 'prod-edge' }],
      ['PATCH', `${GCORE}/prod-edge`, { description: 'x' }],
      ['DELETE', `${GCORE}/prod-edge`, {}],
      ['POST', ANTHROPIC, { api_key: 'sk-ant-x', name: 'p' }],
      ['PUT', `${OPENAI}/${UUID}`, { name: 'p2' }],
      ['DELETE', `${OPENAI}/${UUID}`, { confirm_name: 'p2' }],
      ['POST', '/v1/keys/verify', { key: 'mak_x' }],
    ];

    it('a JSON body without a content type answers 415 naming the expected type, on every route that takes a body', async () => {
      for (const [method, path, body] of BODY_ROUTES) {
        const answer = await send(port, method, path, auth(), JSON.stringify(body));
        expect({ method, path, status: answer.status }).toEqual({ method, path, status: 415 });
        expect(answer.body).toEqual({
          id: 'unsupported_media_type',
          message: 'a request body must be JSON, sent with Content-Type: application/json',
          request_id: answer.headers['x-request-id'],
          code: 'UNSUPPORTED_MEDIA_TYPE',
        });
      }
    });

    it('a body of another type answers 415 the same way', async () => {
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
        const answer = await send(port, 'POST', KEYS, { ...auth(), 'content-type': type }, '{"name":"k"}');
        expect(answer.status).toBe(415);
        expect(answer.body.message).toContain('Content-Type: application/json');
      }
    });

    it('requests without a body need no content type, and an empty JSON body is no body', async () => {
      const created = await send(port, 'POST', KEYS, { ...auth(), 'content-type': 'application/json' }, '{"name":"k"}');
      expect(created.status).toBe(200);
      const uuid = created.body.api_key_info.uuid;
      // DigitalOcean's clients: PUT .../regenerate with a JSON content type and an empty body.
      expect((await send(port, 'PUT', `${KEYS}/${uuid}/regenerate`, { ...auth(), 'content-type': 'application/json' }, '')).status).toBe(200);
      expect((await send(port, 'PUT', `${KEYS}/${uuid}/regenerate`, { ...auth(), 'x-confirm-name': 'k' })).status).toBe(200);
      expect((await send(port, 'POST', `${KEYS}/${uuid}/deployments`, { ...auth(), 'content-type': 'application/json' }, '{"deployment_name":"d"}')).status).toBe(200);
      expect((await send(port, 'DELETE', `${KEYS}/${uuid}/deployments/d`, auth())).status).toBe(200);
      expect((await send(port, 'DELETE', `${KEYS}/${uuid}`, { ...auth(), 'x-confirm-name': 'k' })).status).toBe(200);

      expect((await send(port, 'POST', GCORE, { ...auth(), 'content-type': 'application/json' }, '{"name":"edge"}')).status).toBe(201);
      expect((await send(port, 'DELETE', `${GCORE}/edge`, auth())).status).toBe(204);

      const key = `sk-ant-api03-${randomBytes(24).toString('base64url')}`;
      anthropic.validKeys.add(key);
      const provider = await send(port, 'POST', ANTHROPIC, { ...auth(), 'content-type': 'application/json' }, JSON.stringify({ api_key: key, name: 'claude' }));
      expect(provider.status).toBe(200);
      expect((await send(port, 'DELETE', `${ANTHROPIC}/${provider.body.api_key_info.uuid}`, { ...auth(), 'x-confirm-name': 'claude' })).status).toBe(200);
    });
  });

  describe('pagination links', () => {
    const seed = async () => {
      for (const name of ['a', 'b', 'c']) {
        expect((await t.call('POST', KEYS, { token: owner, body: { name } })).status).toBe(200);
      }
      for (const [mock, path, prefix] of [
        [anthropic, ANTHROPIC, 'sk-ant-api03-'],
        [openai, OPENAI, 'sk-proj-'],
      ] as const) {
        for (const name of ['one', 'two', 'three']) {
          const key = `${prefix}${randomBytes(24).toString('base64url')}`;
          mock.validKeys.add(key);
          expect((await t.call('POST', path, { token: owner, body: { api_key: key, name } })).status).toBe(200);
        }
      }
    };
    const LISTS = [`${KEYS}?page=2&per_page=1&view=mine`, `${ANTHROPIC}?page=2&per_page=1`, `${OPENAI}?page=2&per_page=1`];
    const pathOf = (list: string) => list.split('?')[0];
    const viewOf = (list: string) => (list.includes('view=mine') ? '&view=mine' : '');

    it('are relative by default, whatever Host or X-Forwarded-Host the client sends', async () => {
      await boot();
      await seed();
      for (const list of LISTS) {
        const answer = await send(port, 'GET', list, { ...auth(), host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' });
        expect(answer.status).toBe(200);
        const p = pathOf(list);
        expect(answer.body.links.pages).toEqual({
          first: `${p}?page=1&per_page=1${viewOf(list)}`,
          last: `${p}?page=3&per_page=1${viewOf(list)}`,
          next: `${p}?page=3&per_page=1${viewOf(list)}`,
          previous: `${p}?page=1&per_page=1${viewOf(list)}`,
        });
        expect(answer.body.meta).toEqual({ page: 2, pages: 3, total: 3 });
      }
    });

    it('are absolute from PUBLIC_BASE_URL when it is set, still whatever Host says', async () => {
      await boot({ PUBLIC_BASE_URL: 'https://keys.example.com/api/' });
      await seed();
      for (const list of LISTS) {
        const answer = await send(port, 'GET', list, { ...auth(), host: 'evil.example' });
        expect(answer.status).toBe(200);
        const links = Object.values(answer.body.links.pages) as string[];
        expect(links).toHaveLength(4);
        for (const link of links) expect(link.startsWith(`https://keys.example.com/api${pathOf(list)}?page=`)).toBe(true);
      }
    });
  });
});
